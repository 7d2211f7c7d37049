import assert from "node:assert/strict";
import net from "node:net";
import { parseDocument } from "@ringwatch/shared";
import { decodeAddress, parseTcpLine } from "../src/tcp/proc-net-tcp.js";
import { collectTcpServices, type TcpServicesData } from "../src/collectors/tcp-services.js";
import { runBin, startPeer, stopPeer, type Peer } from "./support.js";

function listen(host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.on("error", () => {}));
    s.once("error", reject);
    s.listen(0, host, () => resolve(s));
  });
}
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;
const connect = (port: number, host: string): Promise<net.Socket> =>
  new Promise((resolve, reject) => { const c = net.connect(port, host, () => resolve(c)); c.once("error", reject); });

async function runScript(): Promise<{ data: TcpServicesData; ms: number }> {
  const r = await runBin("tcp-services");
  assert.equal(r.code, 0, r.stderr);
  const p = parseDocument(r.stdout);
  assert.ok(p.ok, r.stdout.slice(0, 200));
  assert.equal(p.document.discovertype, "tcp-services");
  assert.equal(p.document.source, "tcp-services");
  return { data: p.document.data as unknown as TcpServicesData, ms: r.ms };
}

describe("discovery-scripts/tcp-services", function () {
  this.timeout(60_000);

  describe("/proc/net/tcp parsing", () => {
    it("decodes IPv4, IPv6 and IPv4-mapped addresses (little-endian words)", () => {
      assert.equal(decodeAddress("0100007F"), "127.0.0.1");
      assert.equal(decodeAddress("00000000"), "0.0.0.0");
      assert.equal(decodeAddress("00000000000000000000000001000000"), "::1");
      assert.equal(decodeAddress("00000000000000000000000000000000"), "::");
      assert.equal(decodeAddress("0000000000000000FFFF00000100007F"), "127.0.0.1");
      assert.equal(decodeAddress("000080FE00000000FF7CFC02010000FE"), "fe80::2fc:7cff:fe00:1");
      assert.equal(decodeAddress("B80D0120000000000000000001000000"), "2001:db8::1");
    });

    it("parses a line and skips the header", () => {
      assert.equal(parseTcpLine("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"), undefined);
      const s = parseTcpLine("   3: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 20 4 30 10 -1");
      assert.deepEqual(s, { localIp: "127.0.0.1", localPort: 8080, remoteIp: "127.0.0.1", remotePort: 50000, state: 1, uid: 1000, inode: 424242 });
    });
  });

  describe("real sockets", () => {
    let peer: Peer | undefined;
    const servers: net.Server[] = [];
    const clients: net.Socket[] = [];
    after(async () => {
      await stopPeer(peer);
      for (const c of clients) c.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    });

    it("finds listeners and aggregated client connections with their processes (IPv4 and IPv6)", async () => {
      const v4 = await listen("127.0.0.1");
      const v6 = await listen("::1");
      servers.push(v4, v6);
      const tag = `rw-tcp-peer-${process.pid}`;
      // The peer (a child) listens and opens 3 connections to our v4 listener and 1 to our v6 one.
      peer = await startPeer(tag, [`127.0.0.1,${portOf(v4)},3`, `::1,${portOf(v6)},1`]);
      // We open 2 connections to the peer's listener.
      clients.push(await connect(peer.listenPort, "127.0.0.1"), await connect(peer.listenPort, "127.0.0.1"));

      const { data } = await runScript();
      const peerPid = peer.child.pid!;

      const peerListener = data.listeners.find((l) => l.port === peer!.listenPort);
      assert.ok(peerListener, "peer's listener");
      assert.equal(peerListener.ip, "127.0.0.1");
      assert.equal(peerListener.pid, peerPid);
      assert.equal(peerListener.process, "node");
      assert.ok(peerListener.cmdline.includes(tag), peerListener.cmdline.join(" "));
      assert.deepEqual(data.listeners.find((l) => l.port === portOf(v4))?.pid, process.pid);
      const v6Listener = data.listeners.find((l) => l.port === portOf(v6));
      assert.equal(v6Listener?.ip, "::1");
      assert.equal(v6Listener?.pid, process.pid);

      assert.deepEqual(data.clients.filter((c) => c.pid === peerPid), [
        { process: "node", pid: peerPid, remoteIp: "127.0.0.1", remotePort: portOf(v4), count: 3 },
        { process: "node", pid: peerPid, remoteIp: "::1", remotePort: portOf(v6), count: 1 },
      ].sort((a, b) => a.remoteIp.localeCompare(b.remoteIp)));
      assert.deepEqual(data.clients.filter((c) => c.pid === process.pid),
        [{ process: "node", pid: process.pid, remoteIp: "127.0.0.1", remotePort: peer.listenPort, count: 2 }]);
      // The accepted (server) side of those 6 connections is not reported as clients.
      assert.ok(data.summary.serverConnections >= 6);
    });
  });

  describe("scale", () => {
    let peer: Peer | undefined;
    let server: net.Server | undefined;
    after(async () => {
      await stopPeer(peer);
      server?.close();
    });

    it("aggregates ~5,000 loopback connections into one entry, quickly", async () => {
      const N = 5000;
      server = await listen("127.0.0.1");
      server.maxConnections = N + 100;
      const t0 = Date.now();
      peer = await startPeer(`rw-tcp-scale-${process.pid}`, [`127.0.0.1,${portOf(server)},${N}`]);
      assert.equal(peer.connected, N);
      const setupMs = Date.now() - t0;

      const { data, ms } = await runScript();
      const t1 = process.hrtime.bigint();
      const inProcess = await collectTcpServices();
      const inProcessMs = Number(process.hrtime.bigint() - t1) / 1e6;

      const agg = data.clients.find((c) => c.pid === peer!.child.pid && c.remotePort === portOf(server!));
      assert.equal(agg?.count, N);
      assert.ok(data.summary.clientConnections >= N);
      assert.ok(data.summary.serverConnections >= N);
      assert.ok(data.clients.length < 50, `${data.clients.length} client entries`);
      assert.ok(inProcess.summary.clientConnections >= N);
      console.log(`      tcp-services with ${N} loopback connections (${2 * N} sockets): script ${ms.toFixed(0)} ms wall ` +
        `(incl. node start), collector in-process ${inProcessMs.toFixed(0)} ms; setup ${setupMs} ms`);
      assert.ok(ms < 30_000, `script took ${ms} ms`);
    });
  });
});
