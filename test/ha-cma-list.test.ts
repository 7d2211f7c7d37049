/**
 * Hosts learn every CMA of the cluster from the leader (real processes: two CMAs on the real etcd,
 * three nanoprobes configured with the first CMA's address only). A standby that starts after the
 * hosts joined reaches their lists (signed, in their assignments; kept in each host's state file).
 * Then a host shuts down cleanly (it left: the new leader will not look for it), the leader's
 * machine is lost, and the host starts again: knowing only its configuration, it would announce
 * to the dead CMA until that one came back; with the list, it announces to the new leader too and
 * is back in the rings.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NANOPROBE_CLI, CMA_CLI, startProcess, testCmaAddressesFile } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";
import { loopbackCluster } from "./support/loopback-cluster.js";
import { ensureEtcd, freshPrefix } from "./support/etcd.js";

const HOSTS = ["hl1", "hl2", "hl3"];
const A = "127.0.0.1";
const B = "127.0.0.250";

describe("system: hosts learn every CMA from the leader, and a host coming back after the leader's machine was lost finds the new leader", function () {
  this.timeout(120_000);
  const procs: RunningProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop(2000)));
  });

  it("a standby started later reaches every host's list; a host that left comes back after the leader was SIGKILLed: it joins the new leader from the list", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-ha-list-"));
    const cluster = await loopbackCluster(dir, "halist", { heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 2000 }, "");
    const port = cluster.port;
    const etcd = { RINGWATCH_ETCD_ENDPOINTS: await ensureEtcd(), RINGWATCH_ETCD_PREFIX: freshPrefix("cma-list"), RINGWATCH_STATUS_INTERVAL_MS: "500" };
    const cma = (name: string, address: string): RunningProcess => {
      // HTTP on the channel's port number (TCP beside UDP), at each CMA's own address
      const p = startProcess(name, CMA_CLI, ["run"], cluster.cmaEnv({ ...etcd, RINGWATCH_BIND_ADDRESS: address, RINGWATCH_DATA_DIR: join(dir, name), RINGWATCH_HTTP_LISTEN: `${address}:${port}`, RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none" }));
      procs.push(p);
      return p;
    };
    const nanoprobe = (id: string): RunningProcess => {
      const p = startProcess(id, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, HOSTS.indexOf(id), { RINGWATCH_STATUS_INTERVAL_MS: "250", RINGWATCH_JOIN_BACKOFF_MAX_MS: "1000" }));
      procs.push(p);
      return p;
    };
    const a = cma("cma-a", A);
    await a.waitFor((l) => l.msg === "CMA started", 30_000, "CMA A leads");
    const nps = new Map(HOSTS.map((id) => [id, nanoprobe(id)]));
    for (const [id, p] of nps) await p.waitFor((l) => l.msg === "registered with the CMA" && l.cma === `${A}:${port}`, 20_000, `${id} registered with A`);

    // B starts after the hosts joined: the leader's next read of etcd adds it to every host's list
    const b = cma("cma-b", B);
    await b.waitFor((l) => l.msg === "standing by for the leadership", 30_000, "CMA B stands by");
    const both = [`${A}:${port}`, `${B}:${port}`];
    const listed = (l: LogLine): boolean => l.msg === "status" && JSON.stringify(l.cmasListed) === JSON.stringify(both);
    for (const [id, p] of nps) await p.waitFor(listed, 20_000, `${id} lists both CMAs`);
    for (const id of HOSTS) assert.deepEqual((JSON.parse(readFileSync(testCmaAddressesFile(id), "utf8")) as { cmas: string[] }).cmas, both, `${id} keeps the list in its file`);
    // the standby's HTTP port: 503 on every route, naming the leader and the CMAs (a load balancer's health check)
    await b.until(async () => {
      const r = (await (await fetch(`http://${B}:${port}/api/health`)).json()) as { cmas: string[] };
      return JSON.stringify(r.cmas) === JSON.stringify(both) ? true : undefined; // the CMAs' list is read every 2 s
    }, 10_000, "the standby names both CMAs");
    for (const path of ["/api/health", "/api/hosts", "/console/"]) {
      const r = await fetch(`http://${B}:${port}${path}`);
      assert.equal(r.status, 503, path);
      const body = (await r.json()) as { status: string; leader: string; cmas: string[] };
      assert.equal(body.status, "standby");
      assert.match(body.leader, /^cma@.+:\d+$/, "the leader key's value: identity@host:pid");
      assert.equal(body.leader.split(":").at(-1), String(a.child.pid), "the leader is A");
      assert.deepEqual(body.cmas, both);
    }
    assert.equal((await fetch(`http://${A}:${port}/api/health`)).status, 200, "the leader serves its API");

    // hl1 shuts down for maintenance (a goodbye: A records it left, and mirrors that to etcd)
    const leftAt = a.lines.length;
    await nps.get("hl1")!.stop();
    await a.waitFor((l) => l.msg === "membership event" && l.type === "hostLeft" && l.host === "hl1", 10_000, "A records hl1 left");
    await a.until(async () => (a.lines.slice(leftAt).filter((l) => l.msg === "status").length >= 3 ? true : undefined), 10_000, "a state sync after it (1 s)");
    // the leader's machine is lost; the others follow B, which restores hl1 as left and does not look for it
    a.child.kill("SIGKILL");
    await b.waitFor((l) => l.msg === "CMA started", 20_000, "B leads");
    assert.equal((await fetch(`http://${B}:${port}/api/health`)).status, 200, "B serves its API once it leads");
    for (const id of ["hl2", "hl3"]) await nps.get(id)!.waitFor((l) => l.msg === "registered with the CMA" && l.cma === `${B}:${port}`, 20_000, `${id} follows B`);
    // hl1 starts again; it is configured with A only
    const hl1 = nanoprobe("hl1");
    await hl1.waitFor((l) => l.msg === "CMA addresses learned before this start: announcing to them too", 10_000, "hl1 reads its list");
    await hl1.waitFor((l) => l.msg === "registered with the CMA" && l.cma === `${B}:${port}`, 20_000, "hl1 registers with B");
    await b.waitFor((l) => l.msg === "membership event" && l.type === "hostReturned" && l.host === "hl1", 10_000, "B records hl1 returned");
    await hl1.waitFor((l) => l.msg === "status" && (l.neighbours as unknown[]).length > 0, 10_000, "hl1 back in the rings");
    assert.deepEqual(b.lines.filter((l) => l.msg === "membership event" && l.type === "hostDead"), [], "nobody declared dead");
  });
});
