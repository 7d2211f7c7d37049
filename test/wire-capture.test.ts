/**
 * A whole run captured on the wire (tcpdump on the loopback interface): a real CMA and two real
 * nanoprobes reading guests from libvirt (test driver), one running the shipped discovery scripts
 * beside a process whose command line carries a marker. Every frame but the announcements is
 * sealed; nothing in the capture shows a guest's name or uuid, the marker, or the documents.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { Keyring, decodeEnvelope, decodeFrame } from "@ringwatch/shared";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { offlineToken } from "./support/access.js";

/** UDP payloads of a pcap file captured on Linux loopback (Ethernet framing, IPv4). */
function udpPayloads(pcap: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const le = pcap.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number): number => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
  for (let off = 24; off + 16 <= pcap.length; ) {
    const incl = u32(off + 8);
    const pkt = pcap.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (pkt.length < 14 + 20 + 8 || pkt.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (pkt[14] & 0x0f) * 4;
    if (pkt[14 + 9] !== 17) continue;
    out.push(pkt.subarray(14 + ihl + 8));
  }
  return out;
}

describe("system: nothing readable on the wire", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-wire-"));
  const fx = writeFixture(5);
  const procs: RunningProcess[] = [];
  const MARKER = `rw-marker-${process.pid}-do-not-leak`;
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
  });

  it("a capture of a run holds no guest name or uuid, no command line, no document; every frame but the announcements is sealed", async () => {
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    const cred = await offlineToken(join(dir, "cma-state"), "viewer");
    const port = 20000 + Math.floor(Math.random() * 20000);
    const pcapFile = join(dir, "run.pcap");
    const dump = spawn("tcpdump", ["-i", "lo", "-U", "-w", pcapFile, "-s", "0", "udp", "port", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
    let dumpErr = "";
    dump.stderr.on("data", (d) => (dumpErr += d));
    // a listening process whose command line the tcp-services script reports
    const marked = spawn(process.execPath, ["-e", "require('net').createServer().listen(0, '127.0.0.1'); setTimeout(() => process.exit(0), 120000)", MARKER], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 1000)); // tcpdump is listening
      assert.equal(dump.exitCode, null, `tcpdump: ${dumpErr}`);
      const common = { RINGWATCH_CLUSTER: "wiretest", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0", RINGWATCH_PORT: String(port), RINGWATCH_MULTICAST_GROUP: "" };
      const cma = startProcess("cma", CMA_CLI, ["run"], {
        ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_DATA_DIR: join(dir, "cma-state"),
        RINGWATCH_HEARTBEAT_MS: "200", RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", RINGWATCH_GRAPH_STORE: "none",
      });
      procs.push(cma);
      const url = String((await cma.waitFor((l) => l.msg === "CMA started", 10_000, "CMA started")).http);
      for (const [i, id] of ["hv1", "hv2"].entries()) {
        procs.push(startProcess(id, NANOPROBE_CLI, ["run"], {
          ...common, RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: `127.0.0.${i + 2}`, RINGWATCH_CMA: `127.0.0.1:${port}`, RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"),
          RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: fx.uri, RINGWATCH_SAMPLE_MS: "200", RINGWATCH_REPORT_INTERVAL_MS: "1000",
          ...(id === "hv1" ? { RINGWATCH_SCHEDULE_START_WINDOW_MS: "500ms" } : { RINGWATCH_DISCOVERY_DIR: "" }),
        }));
      }
      const get = async (path: string): Promise<Response> => fetch(`${url}${path}`, { headers: cred.auth });
      // what crossed the wire did arrive: the guests, stats, hv1's services with the marker
      const deadline = Date.now() + 30_000;
      let services = "";
      for (;;) {
        const inv = await get("/api/inventory/hv2");
        const docs = await get("/api/discovery/hv1/tcp-services");
        services = docs.status === 200 ? await docs.text() : "";
        const status = (await (await get("/api/status")).json()) as { stats: { batches: number } };
        if (inv.status === 200 && (await inv.text()).includes(fx.domains[0].uuid) && services.includes(MARKER) && status.stats.batches >= 2) {
          await new Promise((r) => setTimeout(r, 2000)); // and some steady state: heartbeats, stats, reports
          break;
        }
        assert.ok(Date.now() < deadline, "inventory, stats and the marked document at the CMA within 30 s");
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      marked.kill();
      await new Promise((r) => setTimeout(r, 500)); // the last frames are written
      dump.kill("SIGINT");
      await new Promise((r) => dump.once("exit", r));
    }
    const payloads = udpPayloads(readFileSync(pcapFile));
    assert.ok(payloads.length > 30, `captured ${payloads.length} datagrams`);
    const all = Buffer.concat(payloads);
    for (const d of fx.domains) {
      assert.equal(all.includes(Buffer.from(d.name)), false, `guest name ${d.name} in clear`);
      assert.equal(all.includes(Buffer.from(d.uuid)), false, `guest uuid ${d.uuid} in clear`);
      assert.equal(all.includes(Buffer.from(d.uuid.replace(/-/g, ""), "hex")), false, `guest uuid ${d.uuid} as bytes`);
    }
    assert.equal(all.includes(Buffer.from(MARKER)), false, "the command line's marker in clear");
    assert.equal(all.includes(Buffer.from("discovertype")), false, "a discovery document in clear");
    // every frame is sealed (version 2) except announcements, which decode as nothing else
    const keyring = Keyring.fromFile("wiretest", join(dir, "keys/cluster.key"));
    let sealed = 0;
    let challenges = 0;
    for (const p of payloads) {
      if (p[2] === 2) {
        sealed++;
        continue;
      }
      const f = decodeFrame(p, keyring);
      if (f.type === 5) {
        assert.equal(f.payload.length, 16, "a challenge carries its cookie only");
        challenges++;
        continue;
      }
      assert.equal(f.type, 3, "an unsealed frame is a datagram");
      assert.ok(decodeEnvelope(f.payload).announce, `an unsealed datagram is an announcement, not ${JSON.stringify(Object.keys(decodeEnvelope(f.payload)))}`);
    }
    // the CMA challenged each nanoprobe's session once (it answered at once); everything else is sealed
    assert.ok(challenges >= 1 && challenges <= 4, `${challenges} challenges`);
    assert.ok(sealed > payloads.length * 0.8, `${sealed} of ${payloads.length} sealed`);
  });
});
