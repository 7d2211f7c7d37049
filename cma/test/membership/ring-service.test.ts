import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { CommandVerifier, Endpoint, Keyring, decodeEnvelope, encodeEnvelope, makeClusterKey } from "@ringwatch/shared";
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
  const keys = generateKeyPairSync("ed25519");
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
