import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { guestFlowsOptions, type GuestFlowsData } from "../src/collectors/guest-flows.js";
import { parseConntrackLine } from "../src/flows/conntrack.js";
import { FlowBook } from "../src/flows/flow-book.js";
import { kernelDrops, parseHandshakeLine } from "../src/flows/tcpdump-line.js";
import { TestNamespace } from "./netns.js";
import { FIXTURES, runCommand, type ScriptRun, documentData } from "./support.js";

const dataOf = (r: ScriptRun): GuestFlowsData => documentData<GuestFlowsData>(r, "guest-flows");

// Lines as tcpdump 4.99.3 printed them on this machine (-i any -nn -e -l).
const SYN = "06:28:35.545193 vg1   P   ifindex 315 22:be:37:2b:70:89 ethertype IPv4 (0x0800), length 80: 10.77.0.11.47568 > 10.77.0.12.8080: Flags [S], seq 1171142302, win 64240, length 0";
const SYN_ACK = "06:28:35.545216 vg2   P   ifindex 316 26:cd:4f:04:8a:1a ethertype IPv4 (0x0800), length 80: 10.77.0.12.8080 > 10.77.0.11.47568: Flags [S.], seq 2037083626, ack 1171142303, win 65160, length 0";

describe("discovery-scripts/guest-flows: parsing what comes from outside", () => {
  it("a SYN and a SYN-ACK line give interface, direction, source MAC, endpoints and which it is", () => {
    assert.deepEqual(parseHandshakeLine(SYN), { ifname: "vg1", outgoing: false, mac: "22:be:37:2b:70:89", srcIp: "10.77.0.11", srcPort: 47568, dstIp: "10.77.0.12", dstPort: 8080, synAck: false });
    assert.equal(parseHandshakeLine(SYN_ACK)?.synAck, true);
    const v6 = "06:28:35.1 vnet3 Out ifindex 9 52:54:00:aa:00:01 ethertype IPv6 (0x86dd), length 100: 2001:DB8::5.443 > 2001:db8::9.51000: Flags [S.], seq 1, ack 2, win 1, length 0";
    assert.deepEqual(parseHandshakeLine(v6), { ifname: "vnet3", outgoing: true, mac: "52:54:00:aa:00:01", srcIp: "2001:db8::5", srcPort: 443, dstIp: "2001:db8::9", dstPort: 51000, synAck: true });
  });

  it("anything else is not a handshake: RST, plain ACK, port 0 or past 65535, bad addresses, garbage", () => {
    for (const line of [
      SYN.replace("Flags [S]", "Flags [R]"), SYN.replace("Flags [S]", "Flags [S.R]"), SYN.replace("Flags [S]", "Flags [.]"),
      SYN.replace(".8080:", ".0:"), SYN.replace(".47568 >", ".70000 >"), SYN.replace("10.77.0.11.", "10.77.0.300."),
      SYN.replace("22:be:37:2b:70:89", "22:be:37:2b:70"), "", "tcpdump: listening on any", "\u0000".repeat(500), "x".repeat(100_000),
    ]) assert.equal(parseHandshakeLine(line), null, line.slice(0, 120));
    assert.equal(kernelDrops("5 packets captured\n8 packets received by filter\n17 packets dropped by kernel\n"), 17);
    assert.equal(kernelDrops("garbage"), null);
  });

  it("conntrack: an established TCP entry gives client, server asked for and the server that answered; others are not entries", () => {
    const line = "ipv4     2 tcp      6 431998 ESTABLISHED src=10.77.0.11 dst=10.77.0.12 sport=49394 dport=5432 src=10.77.0.12 dst=10.77.0.11 sport=5432 dport=49394 [ASSURED] mark=0 zone=0 use=2";
    assert.deepEqual(parseConntrackLine(line), { clientIp: "10.77.0.11", clientPort: 49394, serverIp: "10.77.0.12", serverPort: 5432, replyIp: "10.77.0.12", replyPort: 5432 });
    assert.equal(parseConntrackLine(line.replace("ESTABLISHED", "TIME_WAIT")), "other");
    assert.equal(parseConntrackLine("ipv4     2 udp      17 29 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1 mark=0 use=1"), "other");
    assert.equal(parseConntrackLine(line.replace("sport=5432 dport=49394", "sport=0 dport=49394")), null);
    assert.equal(parseConntrackLine(line.replace("src=10.77.0.11 ", "src=banana ")), null);
    assert.equal(parseConntrackLine("complete nonsense"), null);
  });

  it("options from the environment: defaults, and a clear error for a value out of bounds or not an integer", () => {
    const o = guestFlowsOptions({});
    assert.equal(o.windowMs, 10_000);
    assert.equal(o.maxPerSecond, 1000);
    assert.equal(o.stateFile, "/var/lib/ringwatch/guest-flows.json");
    assert.throws(() => guestFlowsOptions({ GUEST_FLOWS_WINDOW_MS: "100" }), /GUEST_FLOWS_WINDOW_MS="100": an integer from 500 to 50000/);
    assert.throws(() => guestFlowsOptions({ GUEST_FLOWS_MAX_PPS: "1e3x" }), /GUEST_FLOWS_MAX_PPS/);
    assert.throws(() => guestFlowsOptions({ GUEST_FLOWS_MAX_ENTRIES: "2.5" }), /GUEST_FLOWS_MAX_ENTRIES/);
  });

  describe("the state kept between runs", () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "rw-flows-")); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const A = "11111111-1111-4111-8111-111111111111", B = "22222222-2222-4222-8222-222222222222";

    it("an entry seen again keeps its first sighting; one not seen for keepMs, or of a guest gone, is forgotten", async () => {
      const file = join(dir, "state.json");
      const book = new FlowBook(100);
      book.see(A, "listener", "10.0.0.5", 80, true, "capture", 1000);
      book.see(A, "client", "10.0.0.9", 5432, false, "capture", 1000);
      book.see(B, "client", "10.0.0.9", 5432, false, "capture", 1000);
      await book.save(file);
      const again = new FlowBook(100);
      await again.restore(file);
      assert.equal(again.stats.restored, 3);
      again.see(A, "client", "10.0.0.9", 5432, true, "capture", 50_000);
      again.expire(60_000, 30_000, new Set([A]));
      assert.deepEqual(again.of(A).map((e) => [e.role, e.port, e.firstSeen, e.answered]), [["client", 5432, 1000, true]]);
      assert.equal(again.of(B).length, 0);
      assert.equal(again.stats.expired, 2);
    });

    it("bounded: past maxEntries a new entry is refused and counted, known ones still move on", () => {
      const book = new FlowBook(2);
      assert.ok(book.see(A, "client", "10.0.0.1", 1, false, "capture", 1));
      assert.ok(book.see(A, "client", "10.0.0.2", 2, false, "capture", 1));
      assert.equal(book.see(A, "client", "10.0.0.3", 3, false, "capture", 1), null);
      assert.ok(book.see(A, "client", "10.0.0.1", 1, true, "capture", 2));
      assert.equal(book.size, 2);
      assert.equal(book.stats.refused, 1);
    });

    it("a state file that is not JSON, or holds bad entries, starts afresh or drops them, saying so; nothing throws", async () => {
      const file = join(dir, "state.json");
      writeFileSync(file, "{ not json");
      const a = new FlowBook(10);
      await a.restore(file);
      assert.match(a.stats.error ?? "", /is not JSON: started afresh/);
      writeFileSync(file, JSON.stringify({ entries: [
        { uuid: A, role: "client", ip: "10.0.0.1", port: 80, mac: null, answered: true, firstSeen: 1, lastSeen: 2, source: "capture" },
        { uuid: A, role: "listener", ip: "10.0.0.1", port: 80, mac: "not a mac", answered: true, firstSeen: 1, lastSeen: 2, source: "capture" },
        { uuid: A, role: "client", ip: "10.0.0.1", port: 0, answered: true, firstSeen: 1, lastSeen: 2, source: "capture" },
        { uuid: "../../etc", role: "client", ip: "10.0.0.1", port: 80, answered: true, firstSeen: 1, lastSeen: 2, source: "capture" },
        { uuid: A, role: "owner", ip: "10.0.0.1", port: 80, answered: true, firstSeen: 1, lastSeen: 2, source: "capture" },
        { uuid: A, role: "client", ip: "not an ip", port: 80, answered: true, firstSeen: 1, lastSeen: 2, source: "capture" },
        null, 7, "x",
      ] }));
      const b = new FlowBook(10);
      await b.restore(file);
      assert.equal(b.stats.restored, 1);
      assert.equal(b.stats.malformed, 8);
      assert.equal(b.stats.error, null);
    });
  });
});

// A hypervisor of our own: a namespace with a bridge, and three namespaces standing for guests,
// each behind a veth whose host end is a port of the bridge (as a tap is). The guests' MACs are
// the NICs of three domains of libvirt's test driver. Nothing runs in the guests but the client
// and server processes the test starts.
describe("discovery-scripts/guest-flows on a bridge of real namespaces (root)", function () {
  this.timeout(120_000);
  const MACS = ["52:54:00:77:00:01", "52:54:00:77:00:02", "52:54:00:77:00:03"];
  const UUIDS = ["77000000-0000-4000-8000-000000000001", "77000000-0000-4000-8000-000000000002", "77000000-0000-4000-8000-000000000003"];
  const IPS = ["10.78.0.11", "10.78.0.12", "10.78.0.13"];
  let hv: TestNamespace, guests: TestNamespace[] = [], dir: string, uri: string, leaseDir: string;
  const peers: ChildProcess[] = [];

  const peer = (g: TestNamespace, ...args: string[]): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", g.name, process.execPath, `${FIXTURES}flow-peer.mjs`, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    peers.push(child);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`flow peer ${args.join(" ")} exited (${code})`)));
    createInterface({ input: child.stdout! }).once("line", (line) => resolve(JSON.parse(line) as Record<string, unknown>));
  });
  let lastStdout = "";
  const run = (env: NodeJS.ProcessEnv = {}): Promise<GuestFlowsData> =>
    runCommand("ip", ["netns", "exec", hv.name, `${FIXTURES}../../bin/guest-flows`], {
      LIBVIRT_URI: uri, LIBVIRT_LEASE_DIR: leaseDir, GUEST_FLOWS_STATE: join(dir, "state.json"), GUEST_FLOWS_WINDOW_MS: "3000", ...env,
    }).then((r) => { lastStdout = r.stdout.trim(); return dataOf(r); });
  const guest = (d: GuestFlowsData, i: number) => d.guests.find((g) => g.uuid === UUIDS[i])!;
  /** Starts a script run and, once its capture listens, runs `during` (tcpdump needs ~0.3 s to attach). */
  const runWhile = async (during: () => Promise<unknown>, env: NodeJS.ProcessEnv = {}): Promise<GuestFlowsData> => {
    const result = run(env);
    await new Promise((r) => setTimeout(r, 1200));
    await during();
    return result;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "rw-flows-ns-"));
    leaseDir = join(dir, "leases");
    hv = await TestNamespace.create();
    await hv.ip("link", "add", "br0", "type", "bridge");
    await hv.ip("link", "set", "br0", "up");
    await hv.ip("addr", "add", "10.78.0.1/24", "dev", "br0");
    for (let i = 0; i < 3; i++) {
      const g = await TestNamespace.create();
      guests.push(g);
      await hv.ip("link", "add", `vg${i}`, "type", "veth", "peer", "name", "eth0", "address", MACS[i], "netns", g.name);
      await hv.ip("link", "set", `vg${i}`, "master", "br0", "up");
      await g.ip("addr", "add", `${IPS[i]}/24`, "dev", "eth0");
      await g.ip("link", "set", "eth0", "up");
      await g.ip("link", "set", "lo", "up");
    }
    // The guests' addresses as libvirt's dnsmasq would have leased them (for conntrack's entries).
    const { mkdirSync } = await import("node:fs");
    mkdirSync(leaseDir);
    writeFileSync(join(leaseDir, "br0.status"), JSON.stringify(IPS.map((ip, i) => ({ "ip-address": ip, "mac-address": MACS[i], "expiry-time": Math.floor(Date.now() / 1000) + 3600 }))));
    const domains = UUIDS.map((uuid, i) => `<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>guest${i}</name><uuid>${uuid}</uuid>
      <memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
      <devices><interface type='bridge'><mac address='${MACS[i]}'/><source bridge='br0'/><target dev='vg${i}'/></interface></devices>
      <test:runstate>1</test:runstate></domain>`).join("\n");
    writeFileSync(join(dir, "node.xml"), `<node>${domains}</node>`);
    uri = `test://${join(dir, "node.xml")}`;
  });
  after(async () => {
    for (const p of peers) p.kill("SIGKILL");
    for (const g of guests) await g.destroy();
    await hv?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a guest's connection to another guest's service: the server is listed as serving it, the client as depending on it (answered); the hypervisor's own connection is not a guest's", async () => {
    await peer(guests[1], "serve", IPS[1], "8080");
    const data = await runWhile(async () => {
      await peer(guests[0], "connect", IPS[1], "8080", "3");
      await runCommand("ip", ["netns", "exec", hv.name, process.execPath, "-e", `require("net").connect(8080, "${IPS[1]}", function () { this.destroy(); })`]);
    });
    assert.equal(data.capture.available, true, JSON.stringify(data.capture));
    // the CMA's graph tests ingest this document (cma/test/graph/fixtures/capture.sh)
    if (process.env.GUEST_FLOWS_CAPTURE_TO) writeFileSync(process.env.GUEST_FLOWS_CAPTURE_TO, lastStdout + "\n");
    assert.deepEqual(guest(data, 1).listeners.map((l) => [l.ip, l.port, l.mac, l.source]), [[IPS[1], 8080, MACS[1], "capture"]]);
    assert.deepEqual(guest(data, 0).clients.map((c) => [c.remoteIp, c.remotePort, c.answered]), [[IPS[1], 8080, true]]);
    assert.deepEqual(guest(data, 0).listeners, []);
    assert.deepEqual(guest(data, 1).clients, [], "the hypervisor's own connection to guest 1 is nobody's dependency here");
    assert.deepEqual(guest(data, 2), { uuid: UUIDS[2], name: "guest2", listeners: [], clients: [] });
  });

  it("kept across runs: a quiet window still lists what an earlier one saw, with its first sighting", async () => {
    const before = readFileSync(join(dir, "state.json"), "utf8");
    const data = await run({ GUEST_FLOWS_WINDOW_MS: "500" });
    assert.ok(JSON.parse(before).entries.length >= 2);
    assert.deepEqual(guest(data, 1).listeners.map((l) => [l.ip, l.port]), [[IPS[1], 8080]]);
    assert.equal(data.state.restored, data.state.entries);
    const gone = await run({ GUEST_FLOWS_WINDOW_MS: "500", GUEST_FLOWS_KEEP_MS: "1000" });
    assert.deepEqual(guest(gone, 1).listeners, [], "not seen for keepMs: forgotten");
  });

  it("a pooled connection opened before the run (no handshake in the window) is found in conntrack, attributed by the guests' leased addresses", async () => {
    // conntrack tracks bridged traffic only with br_netfilter and a rule that uses it, as a
    // hypervisor's firewall has; the hypervisor namespace gets one.
    assert.equal((await runCommand("ip", ["netns", "exec", hv.name, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables"])).stdout.trim(), "1", "br_netfilter is needed");
    const nft = (...args: string[]) => runCommand("ip", ["netns", "exec", hv.name, "nft", ...args]).then((r) => assert.equal(r.code, 0, r.stderr));
    await nft("add", "table", "ip", "rwtrack");
    await nft("add chain ip rwtrack forwarding { type filter hook forward priority 0; policy accept; }");
    await nft("add", "rule", "ip", "rwtrack", "forwarding", "ct", "state", "established", "accept");
    await peer(guests[2], "serve", IPS[2], "5432");
    await peer(guests[0], "connect", IPS[2], "5432", "2");
    const data = await run({ GUEST_FLOWS_WINDOW_MS: "500" });
    assert.equal(data.conntrack.available, true, data.conntrack.error ?? "");
    assert.ok(data.conntrack.fromGuests >= 2, JSON.stringify(data.conntrack));
    assert.deepEqual(guest(data, 2).listeners.map((l) => [l.ip, l.port, l.mac, l.source]), [[IPS[2], 5432, MACS[2], "conntrack"]]);
    assert.deepEqual(guest(data, 0).clients.filter((c) => c.remotePort === 5432).map((c) => [c.remoteIp, c.answered, c.source]), [[IPS[2], true, "conntrack"]]);
  });

  it("a SYN flood: at most the cap is read each second, the rest is left to the kernel to drop; a real service still shows", async () => {
    const cap = 100;
    await peer(guests[1], "serve", IPS[1], "8443");
    const data = await runWhile(async () => {
      const flood = peer(guests[0], "flood", IPS[2], "9", "6000");
      await peer(guests[2], "connect", IPS[1], "8443", "1");
      await flood;
    }, { GUEST_FLOWS_MAX_PPS: String(cap), GUEST_FLOWS_BUFFER_KIB: "64", GUEST_FLOWS_STATE: join(dir, "flood-state.json") });
    if (!data.capture.available) assert.fail(JSON.stringify(data.capture));
    const c = data.capture;
    assert.ok(c.cappedSeconds >= 1, JSON.stringify(c));
    // 3 s window: at most cap per started second, plus the lines already buffered when the reader paused
    assert.ok(c.packets <= cap * 4, JSON.stringify(c));
    assert.ok((c.kernelDropped ?? 0) + c.overRate > 0, JSON.stringify(c));
    assert.deepEqual(guest(data, 0).clients.filter((x) => x.remotePort === 9).map((x) => [x.remoteIp, x.answered]), [[IPS[2], false]]);
  });

  it("without tcpdump the capture says so and the document still comes (conntrack, kept entries)", async () => {
    const data = await run({ TCPDUMP: "/nonexistent/tcpdump" });
    assert.deepEqual([data.capture.available, data.capture.error], [false, "/nonexistent/tcpdump not found"]);
    assert.equal(data.conntrack.available, true);
  });

  it("a bad option is a clear error and exit 1, not a guess", async () => {
    const r = await runCommand("ip", ["netns", "exec", hv.name, `${FIXTURES}../../bin/guest-flows`], { LIBVIRT_URI: uri, GUEST_FLOWS_MAX_PPS: "0" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /guest-flows: GUEST_FLOWS_MAX_PPS="0": an integer from 10 to 100000 is needed/);
  });
});
