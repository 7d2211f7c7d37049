import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandVerifier, Endpoint, Keyring, decodeEnvelope, encodeEnvelope, makeClusterKey, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import type { Announce, Command, InboundMessage, Logger } from "@ringwatch/shared";
import { pino } from "pino";
import { RingService, validateAnnounce } from "../../src/index.js";

const silent = pino({ level: "silent" }) as Logger;
const waitFor = waitUntil;
const announce = (name: string, port: number): Announce => ({ host: { name, machineId: "m", addresses: [] }, version: "t", startedAtMs: 1, port, neighbours: [] });

describe("cma/membership/ring-service", function () {
  this.timeout(20_000);
  const keyring = new Keyring("rs-test", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");
  const opts = { heartbeatMs: 1000, warntimeMs: 5000, deadtimeMs: 10000, ringsPerSegment: 1 as const, segmentPrefixLength: 24, probeAttempts: 2, probeIntervalMs: 50, reannounceGraceMs: 60_000, segmentRecheckMs: 5000 };

  it("admits announced hosts with signed assignments and refuses bad input without effect", async () => {
    const cmaEp = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const svc = new RingService(cmaEp, keys.privateKey, opts, silent);
    const hosts = await Promise.all(["hv1", "hv2", "hv3"].map((id) => Endpoint.open({ identity: id, keyring, bindAddress: "127.0.0.1" })));
    const got = new Map<string, Command>();
    try {
      for (const h of hosts) {
        const verifier = new CommandVerifier(keys.publicKey, h.identity, 30_000, 1000, () => true);
        h.on("message", (m: InboundMessage) => {
          const env = decodeEnvelope(m.payload);
          if (env.command) got.set(h.identity, verifier.verify(env.command)); // throws unless the CMA signed it
        });
        h.sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce(h.identity, h.address().port) }));
      }
      await waitFor(() => got.size === 3 && [...got.values()].every((c) => c.setNeighbours?.neighbours.length === 2), 5000, "assignments");
      assert.deepEqual(got.get("hv1")!.setNeighbours!.neighbours.map((n) => n.name), ["hv2", "hv3"]);
      assert.equal(svc.membership.get("hv2")!.state, "alive");

      // bad input: a bad name, a name that is not the sender's, garbage, a report from a stranger
      hosts[0].sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce("../../etc", 1) }));
      hosts[0].sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce("hv9", 1) }));
      hosts[0].sendDatagram(cmaEp.address(), randomBytes(50));
      await hosts[1].send(cmaEp.address(), randomBytes(30));
      const stranger = await Endpoint.open({ identity: "stranger", keyring, bindAddress: "127.0.0.1" });
      const strangerGot: Command[] = [];
      const sv = new CommandVerifier(keys.publicKey, "stranger");
      stranger.on("message", (m) => {
        const env = decodeEnvelope(m.payload);
        if (env.command) strangerGot.push(sv.verify(env.command));
      });
      await stranger.send(cmaEp.address(), encodeEnvelope({ report: { kind: "DEAD", subject: "hv1", subjectAddress: "127.0.0.1:1", silentMs: 1 } }));
      await waitFor(() => svc.counters.refusedAnnouncements === 2 && svc.counters.badMessages === 2 && strangerGot.length === 1, 5000, "refusals");
      assert.ok(strangerGot[0].reannounce, "a stranger's report is answered by a request to announce");
      assert.equal(svc.membership.get("hv1")!.state, "alive", "a stranger's report kills nobody");
      assert.equal(svc.membership.hosts().length, 3);
      await stranger.close();

      // a DEAD report about a host that still answers probes is not believed
      await hosts[1].send(cmaEp.address(), encodeEnvelope({ report: { kind: "DEAD", subject: "hv3", subjectAddress: "", silentMs: 10_000 } }));
      // hv3 must answer the CMA's probes: do what a nanoprobe does
      hosts[2].on("message", (m) => {
        const env = decodeEnvelope(m.payload);
        if (env.probe) hosts[2].sendDatagram(m.from, encodeEnvelope({ probeReply: { nonce: env.probe.nonce } }));
      });
      await waitFor(() => svc.membership.events().some((e) => e.type === "deathNotConfirmed"), 5000, "not confirmed");
      assert.equal(svc.membership.get("hv3")!.state, "alive");

      // a DEAD report about a host that is really gone is confirmed by probe and declared once
      await hosts[0].close();
      await hosts[1].send(cmaEp.address(), encodeEnvelope({ report: { kind: "DEAD", subject: "hv1", subjectAddress: "", silentMs: 10_000 } }));
      await hosts[2].send(cmaEp.address(), encodeEnvelope({ report: { kind: "DEAD", subject: "hv1", subjectAddress: "", silentMs: 10_000 } }));
      await waitFor(() => svc.membership.get("hv1")!.state === "dead", 5000, "hv1 dead");
      await new Promise((r) => setTimeout(r, 300));
      const deaths = svc.membership.events().filter((e) => e.type === "hostDead");
      assert.equal(deaths.length, 1);
      assert.deepEqual(new Set((deaths[0] as { reportedBy: string[] }).reportedBy), new Set(["hv2", "hv3"]));
    } finally {
      svc.stop();
      await Promise.all([...hosts, cmaEp].map((e) => e.close()));
    }
  });

  it("answers a lone host too (its neighbour list is empty, but it waits for a signed answer)", async () => {
    const cmaEp = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const svc = new RingService(cmaEp, keys.privateKey, opts, silent);
    const lone = await Endpoint.open({ identity: "lone", keyring, bindAddress: "127.0.0.1" });
    let got: Command | undefined;
    const verifier = new CommandVerifier(keys.publicKey, "lone");
    lone.on("message", (m) => {
      const env = decodeEnvelope(m.payload);
      if (env.command) got = verifier.verify(env.command);
    });
    try {
      lone.sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce("lone", lone.address().port) }));
      await waitFor(() => got !== undefined, 3000, "an assignment for the lone host");
      assert.deepEqual(got!.setNeighbours!.neighbours, []);
    } finally {
      svc.stop();
      await Promise.all([lone.close(), cmaEp.close()]);
    }
  });

  it("maintenance over the wire: a goodbye leaves it in maintenance, out of the rings; announcing again puts it back; a removed host is not brought back by reports, and announcing is a new host", async () => {
    const cmaEp = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const svc = new RingService(cmaEp, keys.privateKey, opts, silent);
    const hosts = await Promise.all(["m1", "m2", "m3"].map((id) => Endpoint.open({ identity: id, keyring, bindAddress: "127.0.0.1" })));
    const members = (): string[] => svc.membership.rings().segments.flatMap((g) => g.members);
    const of = (type: string, host: string) => svc.membership.events().filter((e) => e.type === type && "host" in e && e.host === host);
    try {
      for (const h of hosts) h.sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce(h.identity, h.address().port) }));
      await waitFor(() => members().length === 3, 5000, "three in the rings");
      svc.control.startMaintenance("m2", Date.now() + 3600_000, "reboot");
      await hosts[1].send(cmaEp.address(), encodeEnvelope({ goodbye: { reason: "shutdown" } }));
      await waitFor(() => svc.membership.get("m2")!.maintenance?.down === true && !members().includes("m2"), 5000, "m2 out of the rings");
      assert.equal(svc.membership.get("m2")!.state, "maintenance", "a goodbye in maintenance is no leaving");
      hosts[1].sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce("m2", hosts[1].address().port) }));
      await waitFor(() => members().includes("m2"), 5000, "m2 back in the rings");
      assert.deepEqual([svc.membership.get("m2")!.state, svc.membership.get("m2")!.maintenance?.down], ["maintenance", false]);
      assert.equal(of("hostReturned", "m2").length, 1);

      svc.control.remove("m3", false);
      await waitFor(() => !members().includes("m3"), 5000, "m3 out of the rings");
      // a neighbour not yet told reports it dead: that does not bring it back
      await hosts[0].send(cmaEp.address(), encodeEnvelope({ report: { kind: "DEAD", subject: "m3", subjectAddress: `127.0.0.1:${hosts[2].address().port}`, silentMs: 10_000 } }));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(svc.membership.get("m3"), undefined);
      hosts[2].sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce("m3", hosts[2].address().port) }));
      await waitFor(() => members().includes("m3"), 5000, "m3 admitted again");
      assert.equal(of("hostJoined", "m3").length, 2, "joined twice: once at the start, once as a new host");
      assert.equal(svc.membership.isRemoved("m3"), false);
    } finally {
      svc.stop();
      await Promise.all([...hosts, cmaEp].map((e) => e.close()));
    }
  });

  it("sends the assignments of a join storm in bounded slices, one per event-loop turn, and each host gets its final one", async () => {
    const cmaEp = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const svc = new RingService(cmaEp, keys.privateKey, { ...opts, assignmentsPerTurn: 3 }, silent);
    const hosts = await Promise.all(Array.from({ length: 12 }, (_, i) => Endpoint.open({ identity: `st${String(i).padStart(2, "0")}`, keyring, bindAddress: "127.0.0.1" })));
    const got = new Map<string, Command>();
    try {
      for (const h of hosts) {
        const verifier = new CommandVerifier(keys.publicKey, h.identity, 30_000, 1000, () => true);
        h.on("message", (m: InboundMessage) => {
          const env = decodeEnvelope(m.payload);
          if (env.command) got.set(h.identity, verifier.verify(env.command));
        });
      }
      for (const h of hosts) h.sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce(h.identity, h.address().port) }));
      await waitFor(() => got.size === 12 && [...got.values()].every((c) => c.setNeighbours?.neighbours.length === 2) && svc.assignmentsPending === 0, 5000, "assignments");
      assert.equal(svc.largestAssignmentSlice, 3, "never more than 3 in one turn, and the slices were full");
      assert.ok(svc.counters.assignmentsSent >= 12);
      // the last assignment each host got is the plan's (one ring of 12 on 127.0.0.1/24)
      const plan = svc.membership.rings().segments[0].members;
      for (const [name, c] of got) {
        const i = plan.indexOf(name);
        assert.deepEqual(c.setNeighbours!.neighbours.map((n) => n.name).sort(), [plan[(i + 11) % 12], plan[(i + 1) % 12]].sort());
      }
    } finally {
      svc.stop();
      await Promise.all([...hosts, cmaEp].map((e) => e.close()));
    }
  });

  it("after a restart: the re-announce requests go in bounded slices; a restored host that acknowledges a new assignment is confirmed without announcing", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-rs-restart-"));
    const hosts = await Promise.all(Array.from({ length: 13 }, (_, i) => Endpoint.open({ identity: `rs${String(i).padStart(2, "0")}`, keyring, bindAddress: "127.0.0.1" })));
    const reannounces = new Map<string, number>();
    const assigned = new Set<string>();
    for (const h of hosts) {
      const verifier = new CommandVerifier(keys.publicKey, h.identity, 30_000, 1000, () => true);
      h.on("message", (m: InboundMessage) => {
        const env = decodeEnvelope(m.payload);
        if (!env.command) return;
        const c = verifier.verify(env.command);
        if (c.reannounce) reannounces.set(h.identity, (reannounces.get(h.identity) ?? 0) + 1);
        if (c.setNeighbours) assigned.add(h.identity);
      });
    }
    const first = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const before = new RingService(first, keys.privateKey, { ...opts, dataDir }, silent);
    const twelve = hosts.slice(0, 12);
    try {
      for (const h of twelve) h.sendDatagram(first.address(), encodeEnvelope({ announce: announce(h.identity, h.address().port) }));
      await waitFor(() => twelve.every((h) => before.membership.get(h.identity)?.joining === false), 5000, "twelve hosts in the rings");
    } finally {
      before.stop(); // writes the snapshot
      await first.close();
    }
    const cmaEp = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const svc = new RingService(cmaEp, keys.privateKey, { ...opts, dataDir, assignmentsPerTurn: 3 }, silent);
    try {
      assigned.clear();
      svc.start();
      await waitFor(() => reannounces.size === 12, 5000, "every restored host asked to re-announce");
      assert.equal(svc.largestReannounceSlice, 3, "never more than 3 in one turn");
      assert.ok(twelve.every((h) => svc.membership.get(h.identity)!.unconfirmed), "nobody re-announced (these hosts do not)");
      // a 13th host joins: its ring neighbours get new assignments, acknowledge them, and are confirmed by that
      hosts[12].sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce(hosts[12].identity, hosts[12].address().port) }));
      await waitFor(() => svc.membership.get("rs12")?.joining === false && svc.assignmentsPending === 0, 5000, "the 13th host in the rings");
      await waitFor(() => [...assigned].filter((n) => n !== "rs12").every((n) => svc.membership.get(n)!.unconfirmed === false), 5000, "acknowledged means confirmed");
      const confirmed = twelve.filter((h) => !svc.membership.get(h.identity)!.unconfirmed).map((h) => h.identity).sort();
      assert.deepEqual(confirmed, [...assigned].filter((n) => n !== "rs12").sort(), "exactly the restored hosts that acknowledged an assignment");
      assert.ok(confirmed.length >= 2 && confirmed.length < 12, `the new host's neighbours: ${confirmed.join(",")}`);
    } finally {
      svc.stop();
      await Promise.all([...hosts, cmaEp].map((e) => e.close()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("holds a DEAD report about a host still joining (no assignment acknowledged) and judges it only once its assignment is given up", async () => {
    const cmaEp = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1", channel: { giveUpAfterMs: 1500 } });
    const svc = new RingService(cmaEp, keys.privateKey, opts, silent);
    const hv1 = await Endpoint.open({ identity: "hv1", keyring, bindAddress: "127.0.0.1" });
    // hv2 announces, then hears nothing: its assignment never arrives (nor do probes)
    const hv2 = await Endpoint.open({ identity: "hv2", keyring, bindAddress: "127.0.0.1", impairment: { incoming: () => true } });
    hv1.on("message", (m) => {
      const env = decodeEnvelope(m.payload);
      if (env.probe) hv1.sendDatagram(m.from, encodeEnvelope({ probeReply: { nonce: env.probe.nonce } }));
    });
    try {
      for (const h of [hv1, hv2]) h.sendDatagram(cmaEp.address(), encodeEnvelope({ announce: announce(h.identity, h.address().port) }));
      await waitFor(() => svc.membership.get("hv1")?.joining === false && svc.membership.get("hv2")?.assignmentInFlight === true, 5000, "hv1 registered, hv2 waiting");
      const probes0 = svc.prober.probesSent;
      await hv1.send(cmaEp.address(), encodeEnvelope({ report: { kind: "DEAD", subject: "hv2", subjectAddress: "", silentMs: 10_000 } }));
      await waitFor(() => svc.counters.deadReportsHeld === 1, 3000, "report held");
      assert.equal(svc.membership.get("hv2")!.state, "alive", "not suspected while joining");
      assert.equal(svc.prober.probesSent, probes0, "no probe while joining");
      // its assignment is given up (1.5 s without an ack): now the report counts, confirmed by probe
      await waitFor(() => svc.membership.events().some((e) => e.type === "hostDead"), 10_000, "hv2 declared dead");
      const dead = svc.membership.events().filter((e) => e.type === "hostDead");
      assert.deepEqual(dead.map((e) => [(e as { host: string }).host, (e as { reportedBy: string[] }).reportedBy]), [["hv2", ["hv1"]]]);
      assert.ok(svc.counters.assignmentsUnacknowledged >= 1);
    } finally {
      svc.stop();
      await Promise.all([hv1, hv2, cmaEp].map((e) => e.close()));
    }
  });

  it("validates announcements", () => {
    const ok = announce("hv-1.dc1", 1984);
    assert.equal(validateAnnounce(ok), undefined);
    assert.match(validateAnnounce({ ...ok, host: { ...ok.host, name: "" } })!, /bad host name/);
    assert.match(validateAnnounce({ ...ok, host: { ...ok.host, name: "x".repeat(65) } })!, /bad host name/);
    assert.match(validateAnnounce({ ...ok, host: { ...ok.host, addresses: new Array(65).fill("a") } })!, /addresses/);
    assert.match(validateAnnounce({ ...ok, neighbours: new Array(65).fill({ name: "a", address: "b", port: 1 }) })!, /neighbours/);
    assert.match(validateAnnounce(undefined)!, /no host identity/);
  });
});
