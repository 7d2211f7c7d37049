/**
 * The nanoprobe's libvirt binding against a real libvirtd with tiny QEMU (TCG) domains made by
 * scripts/libvirt-up.sh: bulk stats with every group the nanoprobe asks for, lifecycle events for
 * domains made and removed by another client, every domain action, and libvirt's close callback
 * when libvirtd alone is stopped (the domains survive it). Needs root. When libvirtd
 * cannot start this fails (it does not skip): CI runs it on this kind of machine.
 */
import assert from "node:assert/strict";
import { DEFAULT_STATS_GROUPS, LibvirtConnection, LibvirtError, LibvirtErrorCode } from "@ringwatch/libvirt";
import { HypervisorMonitor } from "@ringwatch/nanoprobe";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import type { DomainInventory } from "@ringwatch/shared";
import type { DomainStatsRecord, DomainSummary, LifecycleEvent } from "@ringwatch/libvirt";
import { LibvirtLab } from "./support/libvirt.js";

const VMS = 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: nanoprobe libvirt binding on a real libvirtd (QEMU/TCG domains)", function () {
  this.timeout(60_000);
  let lab: LibvirtLab;
  let conn: LibvirtConnection;
  const events: LifecycleEvent[] = [];

  const ours = <T extends { name: string }>(xs: T[]): T[] => xs.filter((x) => x.name.startsWith(lab.prefix));
  const domain = async (name: string): Promise<DomainSummary> => {
    const d = (await conn.listDomains()).find((x) => x.name === name);
    assert.ok(d, `${name} not listed`);
    return d;
  };
  const sawEvent = (name: string, event: LifecycleEvent["event"]): boolean => events.some((e) => e.name === name && e.event === event);

  before(async function () {
    this.timeout(180_000); // a fresh machine installs ~90 MiB of packages first
    try {
      lab = await LibvirtLab.start(VMS);
    } catch (err) {
      throw new Error(`could not start libvirtd with ${VMS} QEMU domains (this test needs root and Debian's libvirt/QEMU): ${(err as Error).message}`);
    }
    conn = await LibvirtConnection.open(lab.uri);
    await conn.watchLifecycle();
    conn.events.on("lifecycle", (e) => events.push(e));
  });

  after(async function () {
    this.timeout(60_000);
    await conn?.close();
    await lab?.stop();
  });

  it("bulk stats with every group return real values for each running domain", async () => {
    const first = ours(await conn.bulkStats(DEFAULT_STATS_GROUPS));
    assert.deepEqual(first.map((r) => r.name).sort(), lab.names);
    await sleep(1000);
    const second = ours(await conn.bulkStats(DEFAULT_STATS_GROUPS));
    const byName = new Map<string, DomainStatsRecord>(first.map((r) => [r.name, r]));
    for (const r of second) {
      const p = r.params;
      const where = `${r.name}: ${JSON.stringify(Object.keys(p))}`;
      assert.equal(r.source, "bulk");
      assert.equal(p["state.state"], 1, `${r.name} running`);
      // a guest with no OS still runs SeaBIOS, so its CPU time keeps growing
      const t0 = byName.get(r.name)?.params["cpu.time"];
      assert.equal(typeof p["cpu.time"], "bigint", where);
      assert.equal(typeof t0, "bigint", where);
      assert.ok((p["cpu.time"] as bigint) > (t0 as bigint), `${r.name} cpu.time grew (${t0} -> ${p["cpu.time"]})`);
      const vcpus = Number(p["vcpu.current"]);
      assert.ok(vcpus >= 1 && vcpus <= 2, where);
      for (let v = 0; v < vcpus; v++) assert.equal(typeof p[`vcpu.${v}.time`], "bigint", where);
      const disks = Number(p["block.count"]);
      assert.ok(disks >= 1 && disks <= 2, where);
      for (let b = 0; b < disks; b++) {
        assert.equal(typeof p[`block.${b}.rd.reqs`], "bigint", where);
        assert.match(String(p[`block.${b}.name`]), /^vd[ab]$/, where);
      }
      const nics = Number(p["net.count"]);
      assert.ok(nics >= 1 && nics <= 2, where);
      for (let n = 0; n < nics; n++) {
        assert.equal(typeof p[`net.${n}.rx.bytes`], "bigint", where);
        assert.doesNotMatch(String(p[`net.${n}.name`]), /^vnet/, where);
      }
      assert.equal(p["balloon.current"], 64n * 1024n, where);
    }
    // the shapes the script cycles through: 1-2 vCPUs, 1-2 disks, 1-2 NICs all appear
    const count = (k: string, v: number): number => second.filter((r) => Number(r.params[k]) === v).length;
    for (const k of ["vcpu.current", "block.count", "net.count"]) assert.ok(count(k, 1) > 0 && count(k, 2) > 0, k);
  });

  it("lifecycle: a domain made and one removed by another client are seen, and listDomains follows", async () => {
    const made = lab.name(VMS + 1);
    await lab.resize(VMS + 1); // virsh define + start
    await waitUntil(() => sawEvent(made, "started"), 10_000, `started event for ${made}`);
    assert.ok(sawEvent(made, "defined"));
    const d = await domain(made);
    assert.equal(d.state, "running");
    assert.ok(d.id !== null && d.id > 0);

    await lab.resize(VMS); // virsh destroy + undefine of the domain above VMS
    await waitUntil(() => sawEvent(made, "stopped"), 10_000, `stopped event for ${made}`);
    await waitUntil(() => sawEvent(made, "undefined"), 10_000, `undefined event for ${made}`);
    assert.equal(events.find((e) => e.name === made && e.event === "stopped")?.detailName, "destroyed");
    assert.ok(!(await conn.listDomains()).some((x) => x.name === made), `${made} still listed`);
    assert.deepEqual(ours(await conn.listDomains()).map((x) => x.name).sort(), lab.names);
  });

  it("the nanoprobe's monitor sees a VM started and one destroyed within one sampling interval, and samples every group", async () => {
    const monitor = new HypervisorMonitor({ uri: lab.uri, sampleMs: 1000, inventoryResendMs: 600_000, reconnectMs: 5000 }, silentLogger());
    const seen: { at: number; inv: DomainInventory }[] = [];
    monitor.on("inventory", (inv) => seen.push({ at: Date.now(), inv }));
    await monitor.start();
    try {
      const made = lab.name(VMS + 1);
      const appeared = (): number | undefined => seen.find((x) => !x.inv.full && x.inv.domains.some((d) => d.name === made && d.state === "running"))?.at;
      await lab.resize(VMS + 1);
      const t1 = Date.now();
      await waitUntil(() => appeared() !== undefined, 5000, `${made} in the inventory`);
      assert.ok(appeared()! - t1 <= 1000, `appeared ${appeared()! - t1} ms after the start`);
      const uuid = monitor.tracker!.snapshot().find((d) => d.name === made)!.uuid;
      const gone = (): number | undefined => seen.find((x) => !x.inv.full && (x.inv.removed.includes(uuid) || x.inv.domains.some((d) => d.uuid === uuid && d.state === "shutoff")))?.at;
      await lab.resize(VMS);
      const t2 = Date.now();
      await waitUntil(() => gone() !== undefined, 5000, `${made} gone from the inventory`);
      assert.ok(gone()! - t2 <= 1000, `gone ${gone()! - t2} ms after the destroy`);
      // the sampler: rates for every group on real domains
      await sleep(2500);
      const keys = new Set([...monitor.sampler!.take().keys()].map((k) => k.split("/")[1].replace(/\.\d+\./, ".N.").replace(/^(block|net)\.[^.]+\./, "$1.X.")));
      for (const k of ["cpu", "vcpu.N.time", "vcpu.N.wait", "vcpu.N.delay", "balloon.current", "balloon.rss", "block.X.rd.bytes", "block.X.wr.reqs", "net.X.rx.bytes", "net.X.tx.pkts", "net.X.rx.drop"]) {
        assert.ok(keys.has(k), `${k} sampled (have ${[...keys].join(",")})`);
      }
    } finally {
      await monitor.stop();
    }
  });

  it("every action works on a real domain", async () => {
    const name = lab.name(2);
    const { uuid } = await domain(name);
    const state = async (): Promise<string> => (await conn.domainInfo(uuid)).state;

    await conn.suspend(uuid);
    assert.equal(await state(), "paused");
    await waitUntil(() => sawEvent(name, "suspended"), 5000, "suspended event");
    await conn.resume(uuid);
    assert.equal(await state(), "running");
    await waitUntil(() => sawEvent(name, "resumed"), 5000, "resumed event");

    await conn.reset(uuid);
    assert.equal(await state(), "running");

    await conn.destroy(uuid);
    assert.equal(await state(), "shutoff");
    assert.equal((await conn.domainInfo(uuid)).id, null);
    await waitUntil(() => events.some((e) => e.name === name && e.event === "stopped" && e.detailName === "destroyed"), 5000, "stopped/destroyed event");
    const startedBefore = events.filter((e) => e.name === name && e.event === "started").length;
    await conn.start(uuid);
    assert.equal(await state(), "running");
    await waitUntil(() => events.filter((e) => e.name === name && e.event === "started").length > startedBefore, 5000, "started event after create");

    // ACPI requests: accepted, but with no guest OS nothing answers them, so the domain keeps running
    await conn.reboot(uuid);
    await conn.shutdown(uuid);
    assert.equal(await state(), "running");
  });

  it("libvirtd stopped alone: libvirt's close callback says eof at once, the domains keep running, and a restarted libvirtd has them all", async () => {
    const watcher = await LibvirtConnection.open(lab.uri);
    const closed: string[] = [];
    watcher.events.on("closed", (r) => closed.push(r));
    try {
      await lab.daemonStop(); // the script checks that every QEMU survived
      await waitUntil(() => closed.length > 0, 5000, "the close callback");
      assert.deepEqual(closed, ["eof"]);
      await assert.rejects(watcher.listDomains(), LibvirtError);
      await lab.daemonStart(); // and that libvirtd reattached to every one
      const again = await LibvirtConnection.open(lab.uri);
      try {
        const running = ours(await again.listDomains()).filter((d) => d.state === "running").map((d) => d.name).sort();
        assert.deepEqual(running, lab.names);
      } finally {
        await again.close();
      }
    } finally {
      await watcher.close();
    }
    await conn.close(); // it died with libvirtd: the next test takes a new one
    conn = await LibvirtConnection.open(lab.uri);
  });

  it("actions and queries on a nonexistent uuid reject cleanly with NO_DOMAIN", async () => {
    const missing = "00000000-0000-4000-8000-00000000dead";
    const isNoDomain = (e: unknown): boolean => {
      assert.ok(e instanceof LibvirtError, String(e));
      assert.equal(e.code, LibvirtErrorCode.NO_DOMAIN, e.message);
      return true;
    };
    for (const act of ["suspend", "resume", "reset", "destroy", "start", "reboot", "shutdown"] as const) {
      await assert.rejects(conn[act](missing), isNoDomain, act);
    }
    await assert.rejects(conn.domainInfo(missing), isNoDomain);
    await assert.rejects(conn.blockStats(missing, "vda"), isNoDomain);
    // the connection is still usable afterwards
    assert.equal(ours(await conn.listDomains()).length, VMS);
  });
});
