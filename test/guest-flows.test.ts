/**
 * Guests' own dependencies, seen from the hypervisor, end to end (issues 16 item 1 and 14): two
 * network namespaces stand for guests behind a bridge of the root namespace (the hypervisor, veth
 * ends as taps; the hypervisor has an address on the bridge); libvirt's test driver names them by
 * their NICs' MACs. A real CMA (Kuzu graph, a
 * dry-run ladder) and a real nanoprobe run as processes on the hypervisor; the nanoprobe runs its
 * shipped discovery scripts, guest-flows among them, with a short window. Nothing runs in the
 * guests but a client (web, opening a connection every 200 ms) and a server (api, port 8080).
 *
 * Then: api's service is discovered and checked ("discovered": "tcp"); it is stopped → the guest
 * is unhealthy (evidence: the discovered service) → the CMA's ladder starts; the graph links web
 * to api's service and api to the service it runs.
 */
import assert from "node:assert/strict";
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { silentLogger } from "@ringwatch/shared";
import { KuzuStore } from "@ringwatch/cma";
import { NetnsTopology, uniquePrefix } from "./support/netns.js";
import { CMA_CLI, NANOPROBE_CLI, RunningProcess, runToExit, startProcess } from "./support/processes.js";

const CMA_PORT = 19_871;
const UUIDS = ["f1000000-0000-4000-8000-000000000001", "f1000000-0000-4000-8000-000000000002"];

describe("system: guest flows seen from the hypervisor → the graph, and checks of the discovered services", function () {
  this.timeout(120_000);
  let topo: NetnsTopology;
  let cma: RunningProcess | undefined, np: RunningProcess | undefined;
  let dir: string;
  let server: ChildProcess | undefined;
  const children: ChildProcess[] = [];

  /** node -e `code` in a guest namespace; resolves once it prints a line */
  const inGuest = (i: number, code: string): Promise<ChildProcess> => new Promise((resolve, reject) => {
    const child = topo.spawnIn(topo.hosts[i].ns, process.execPath, ["-e", code]);
    children.push(child);
    child.once("exit", (c) => reject(new Error(`guest ${i} process exited (${c})`)));
    createInterface({ input: child.stdout! }).once("line", () => { child.removeAllListeners("exit"); resolve(child); });
  });

  before(async () => {
    topo = await NetnsTopology.create(uniquePrefix("rwf"), 2);
    // the hypervisor's own address on the guests' bridge (a real one has it on a NAT network or a
    // bridged one): its checks reach the guests there, never through the default route
    execFileSync("ip", ["addr", "add", "10.199.255.254/16", "dev", topo.bridge]);
    const macs = topo.hosts.map((h) => (JSON.parse(execFileSync("ip", ["-n", h.ns, "-j", "link", "show", "eth0"], { encoding: "utf8" })) as { address: string }[])[0].address);
    dir = mkdtempSync(join(tmpdir(), "rw-guest-flows-"));
    const domains = ["web", "api"].map((name, i) => `<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>${name}</name><uuid>${UUIDS[i]}</uuid>
      <memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
      <devices><interface type='bridge'><mac address='${macs[i]}'/><source bridge='${topo.bridge}'/><target dev='${topo.prefix}v${i}'/></interface></devices>
      <test:runstate>1</test:runstate></domain>`);
    writeFileSync(join(dir, "node.xml"), `<node>${domains.join("\n")}</node>`);
    writeFileSync(join(dir, "checks.json"), JSON.stringify({ defaults: { intervalMs: 500, timeoutMs: 400, failures: 2 }, checks: [{ guest: "api", discovered: "tcp" }] }));
    writeFileSync(join(dir, "policy.json"), JSON.stringify({ mode: "dry-run", default: ["notify", { wait: "1m" }, "reboot"] }));
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);

    const api = topo.hosts[1].address;
    server = await inGuest(1, `require("net").createServer((c) => c.end()).listen(8080, "${api}", () => console.log("up"))`);
    await inGuest(0, `const net = require("net"); console.log("up"); setInterval(() => net.connect(8080, "${api}").on("connect", function () { this.end(); }).on("error", () => {}), 200)`);

    const common = { RINGWATCH_CLUSTER: "guestflows", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1" };
    cma = startProcess("cma", CMA_CLI, ["run"], {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_PORT: String(CMA_PORT), RINGWATCH_MULTICAST_GROUP: "",
      RINGWATCH_DATA_DIR: join(dir, "cma"), RINGWATCH_HTTP_LISTEN: "off", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_STATUS_INTERVAL_MS: "0",
      RINGWATCH_ACTION_POLICY_FILE: join(dir, "policy.json"), RINGWATCH_LADDER_TICK_MS: "200",
    });
    await cma.waitFor((l) => l.msg === "CMA started", 30_000, "CMA started");
    np = startProcess("hv-flows", NANOPROBE_CLI, ["run"], {
      ...common, RINGWATCH_IDENTITY: "hv-flows", RINGWATCH_PORT: String(CMA_PORT + 1), RINGWATCH_CMA: `127.0.0.1:${CMA_PORT}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_ZABBIX_AGENT_CONFIG: "",
      RINGWATCH_LIBVIRT_URI: `test://${join(dir, "node.xml")}`, RINGWATCH_GUEST_CHECKS_FILE: join(dir, "checks.json"),
      RINGWATCH_GUEST_FLOWS_WINDOW_MS: "3000", RINGWATCH_SCHEDULE_START_WINDOW_MS: "1500", RINGWATCH_STATUS_INTERVAL_MS: "500",
    });
    await np.waitFor((l) => l.msg === "registered with the CMA", 30_000, "registered");
  });

  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await np?.stop();
    await cma?.stop();
    await topo?.destroy();
  });

  it("the api's service is discovered and checked; stopped, it makes api unhealthy and starts its ladder; the graph links web to it", async () => {
    type Discovery = Record<string, { runs: number; errors: number }>;
    const flows = (l: Record<string, unknown>) => (l.discovery as Discovery | null)?.["guest-flows"];
    const status = await np!.waitFor((l) => l.msg === "status" && (flows(l)?.runs ?? 0) >= 1, 30_000, "a guest-flows run");
    assert.equal(flows(status)?.errors, 0, JSON.stringify(np!.lines.filter((l) => /discovery/.test(String(l.msg)))));

    server!.kill("SIGKILL");
    const apiAddress = `${topo.hosts[1].address}:8080`;
    const unhealthy = await np!.waitFor((l) => l.msg === "guest unhealthy" && l.uuid === UUIDS[1], 20_000, "api unhealthy");
    assert.deepEqual([unhealthy.check, unhealthy.target, unhealthy.discovered], ["tcp", apiAddress, true]);
    assert.ok(!np!.lines.some((l) => l.msg === "guest unhealthy" && l.uuid === UUIDS[0]), "web runs no discovered service: never checked");
    const raised = await cma!.waitFor((l) => l.msg === "alert event" && l.kind === "guestUnhealthy" && l.subject === UUIDS[1] && l.change === "raised", 10_000, "the CMA has the alert");
    assert.match(String(raised.evidenceJson), /"discovered":true/);
    const notify = await cma!.waitFor((l) => l.msg === "ladder step" && l.step === "notify", 10_000, "api's ladder notifies");
    assert.equal(notify.outcome, "ok");

    // the graph the CMA wrote (read once it has stopped: Kuzu is one process's at a time)
    await np!.stop();
    await cma!.stop();
    const graph = new KuzuStore({ path: join(dir, "cma/graph"), bufferPoolMb: 64, log: silentLogger() });
    try {
      const rows = async (cypher: string) => (await graph.read(cypher, {})).rows;
      assert.deepEqual(await rows("MATCH (d:Domain)-[x:DEPENDS_ON]->(s:Service) RETURN d.name AS guest, s.key AS service, x.clientHost AS clientHost"), [{ guest: "web", service: apiAddress, clientHost: "hv-flows" }]);
      assert.deepEqual(await rows("MATCH (d:Domain)-[:RUNS_SERVICE]->(s:Service) RETURN d.name AS guest, s.key AS service"), [{ guest: "api", service: apiAddress }]);
      assert.deepEqual(await rows("MATCH (h:Host)-[:RUNS]->(d:Domain)-[:OFFERS]->(s:Service) RETURN h.name AS host, d.name AS guest, s.key AS service"), [{ host: "hv-flows", guest: "api", service: apiAddress }]);
    } finally {
      await graph.close();
    }
  });
});
