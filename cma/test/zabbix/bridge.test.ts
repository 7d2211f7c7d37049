/**
 * The bridge's mapping from CMA events to Zabbix values, with the real stores, the real config sync
 * against the real Zabbix server, and the values it pushes collected in an array (the sender is
 * tested on its own; the end-to-end test uses it).
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { compactSamples, encodeStatsBatch, silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import type { GuestDomain, StatsBatch } from "@ringwatch/shared";
import { AlertStore } from "../../src/intake/alert-store.js";
import { InventoryStore } from "../../src/intake/inventory-store.js";
import { Membership } from "../../src/membership/membership.js";
import type { HostRecord, HostState, MembershipEvent } from "../../src/membership/membership.js";
import { StatsStore } from "../../src/intake/stats-store.js";
import { ZabbixApi } from "../../src/zabbix/config/api-client.js";
import { ZabbixBridge, clockOf } from "../../src/zabbix/bridge.js";
import type { BridgeOptions } from "../../src/zabbix/bridge.js";
import { ConfigSync } from "../../src/zabbix/config/config-sync.js";
import { KEYS } from "../../src/zabbix/config/definitions.js";
import type { ZabbixValue } from "../../src/zabbix/sender/zabbix-value.js";
import { MonitoringErrors } from "../../src/monitoring-errors/monitoring-errors.js";
import { CMA_KEYS, recoveryItemKeys } from "../../src/zabbix/config/definitions.js";
import type { LadderLevelEvent } from "../../src/actions/ladder.js";
import type { AuditEntry } from "../../src/audit/audit-entry.js";
import { API_URL, adminApi, cleanup, ensureZabbix, suffix, testNames } from "./zabbix-server.js";

type EventInput = MembershipEvent extends infer E ? (E extends MembershipEvent ? Omit<E, "at"> : never) : never;
const U1 = "5e1f0000-0000-4000-8000-0000000000b1";
const U2 = "5e1f0000-0000-4000-8000-0000000000b2";
const OPTS: BridgeOptions = { hostPerDomain: false, syncDebounceMs: 50, syncRetryMs: 200, stateRefreshMs: 60_000, templateRecheckMs: 600_000, configCacheDelayMs: 0, maxHeldValues: 100_000, maxHoldMs: 600_000, cmaHost: "rwtest-cma-bridge" };

function host(name: string, state: HostState = "alive"): HostRecord {
  return { name, machineId: name, address: "127.0.0.1", port: 1984, segment: "127.0.0.0/24", state, since: 0, joinedAt: 0, version: "t", assignedKey: "", unconfirmed: false };
}

function domain(uuid: string, name: string, state = "running"): GuestDomain {
  return { uuid, name, state, vcpus: 2, memoryKib: 1024, disks: [{ target: "vda", source: "/img/a" }], nics: [{ target: "tap0", mac: "52:54:00:00:00:01", bridge: "br0", network: "" }] };
}

describe("cma/zabbix/bridge (real stores, real Zabbix config sync, values collected)", function () {
  this.timeout(120_000);
  const sfx = suffix();
  const names = testNames(sfx);
  const group = `rwtest bridge ${sfx}`;
  const hv1 = `rwtest-b1-${sfx}`;
  const hv2 = `rwtest-b2-${sfx}`;
  const api = adminApi();
  let values: ZabbixValue[] = [];
  const sink = { push: (vs: readonly ZabbixValue[]) => void values.push(...vs) };
  const log = silentLogger();
  let membership: Membership;
  let inventory: InventoryStore;
  let stats: StatsStore;
  let alerts: AlertStore;
  let errors: MonitoringErrors;
  let bridge: ZabbixBridge;
  const ladderLevels = new EventEmitter<{ level: [LadderLevelEvent] }>();
  const auditEntries = new EventEmitter<{ entry: [AuditEntry] }>();
  const of = (h: string, key: string) => values.filter((v) => v.host === h && v.key === key);
  const event = (e: EventInput) => membership.record({ ...e, at: Date.now() } as MembershipEvent);

  before(async () => {
    await ensureZabbix();
    membership = new Membership(1);
    membership.upsert(host(hv1));
    membership.upsert(host(hv2));
    inventory = new InventoryStore(log);
    stats = new StatsStore(log);
    alerts = new AlertStore(log);
    errors = new MonitoringErrors(log);
    inventory.apply(hv1, { full: true, domains: [domain(U1, "web1"), domain(U2, "db1", "shutoff")], removed: [], atMs: 0 });
    bridge = new ZabbixBridge({ membership, inventory, stats, alerts, monitoringErrors: errors, ladderLevels, auditEntries }, new ConfigSync(api, { names, hostGroup: group, hostPerDomain: false, log }), sink, { ...OPTS, cmaHost: names.cmaHost }, log);
    bridge.start();
    await waitUntil(() => bridge.counters.syncs >= 1 || bridge.counters.syncFailures > 0, 60_000, "the first sync");
    assert.equal(bridge.lastSyncError, undefined);
  });
  after(async () => {
    await bridge.stop();
    await cleanup(api, { hostGroups: [group], templates: [names.hypervisorTemplate, names.guestTemplate, names.cmaTemplate], groups: [names.templateGroup] });
    await api.close();
  });

  it("after the first sync: every host's state, the guests' discovery, counts and states", () => {
    assert.deepEqual(of(hv1, KEYS.hostState).map((v) => v.value), [1]);
    assert.deepEqual(of(hv2, KEYS.hostState).map((v) => v.value), [1]);
    const vms = JSON.parse(String(of(hv1, KEYS.lldDomains)[0].value)) as Record<string, string>[];
    assert.deepEqual(vms.map((r) => r["{#VM.NAME}"]).sort(), ["db1", "web1"]);
    assert.equal(JSON.parse(String(of(hv1, KEYS.lldVcpus)[0].value)).length, 4);
    assert.deepEqual(JSON.parse(String(of(hv1, KEYS.lldDisks)[0].value)).map((r: Record<string, string>) => r["{#DISK}"]), ["vda", "vda"]);
    assert.equal(JSON.parse(String(of(hv1, KEYS.lldNics)[0].value)).length, 2);
    assert.deepEqual(of(hv1, KEYS.domainsTotal).map((v) => v.value), [2]);
    assert.deepEqual(of(hv1, KEYS.domainsRunning).map((v) => v.value), [1]);
    assert.deepEqual(of(hv1, `ringwatch.vm.state[${U2}]`).map((v) => v.value), ["shutoff"]);
    assert.deepEqual(of(hv2, KEYS.lldDomains), [], "no inventory, no discovery");
  });

  it("the CMA's own host: its heartbeat after the hosts' states; CMA-side monitoring errors as counts and detail, at once; host-side ones not there", () => {
    const beat = values.findIndex((v) => v.host === names.cmaHost && v.key === CMA_KEYS.heartbeat);
    assert.ok(beat > values.map((v) => v.key).lastIndexOf(KEYS.hostState), "states first, then the heartbeat");
    assert.deepEqual(of(names.cmaHost, CMA_KEYS.graphWrites).map((v) => v.value), [0]);
    values = [];
    errors.raise("cma", "graphWrite", "", { error: "disk full" });
    errors.raise(hv1, "statsRefused", "", { error: "bad table" });
    errors.raise(hv2, "statsRefused", "", { error: "bad table" });
    errors.raise(hv1, "discoveryError", "lldp", { exit: 3 });
    errors.raise(hv1, "statsRefused", "", { error: "bad table", refusedBatches: 2 }); // an update: with the next heartbeat
    assert.deepEqual(of(names.cmaHost, CMA_KEYS.graphWrites).map((v) => v.value), [1, 1, 1]);
    assert.deepEqual(of(names.cmaHost, CMA_KEYS.statsRefused).map((v) => v.value), [0, 1, 2], "the host-side error pushed nothing");
    const detail = JSON.parse(String(of(names.cmaHost, CMA_KEYS.errorsDetail).at(-1)!.value)) as { host: string; source: string }[];
    assert.deepEqual(detail.map((d) => `${d.host}/${d.source}`), ["cma/graphWrite", `${hv1}/statsRefused`, `${hv2}/statsRefused`]);
    values = [];
    errors.clear("cma", "graphWrite");
    assert.deepEqual(of(names.cmaHost, CMA_KEYS.graphWrites).map((v) => v.value), [0]);
    assert.deepEqual(of(names.cmaHost, CMA_KEYS.statsRefused).map((v) => v.value), [2]);
  });

  it("membership: dead 0, segment unreachable 3, back 1 — at once, with the event as JSON and its clock", () => {
    values = [];
    membership.setState(membership.get(hv1)!, "dead");
    event({ type: "hostDead", host: hv1, segment: "s", reportedBy: [hv2], confirmedBy: "probe" });
    const dead = of(hv1, KEYS.hostState);
    assert.deepEqual(dead.map((v) => v.value), [0]);
    assert.equal(JSON.parse(String(of(hv1, KEYS.hostEvent)[0].value)).confirmedBy, "probe");
    assert.ok(Math.abs(dead[0].clock - Date.now() / 1000) < 5);
    for (const h of [hv1, hv2]) membership.setState(membership.get(h)!, "unreachable");
    event({ type: "segmentSuspected", segment: "s", hosts: [hv1, hv2], reportedBy: [] });
    assert.deepEqual(values.filter((v) => v.key === KEYS.hostState).map((v) => `${v.host === hv1 ? 1 : 2}:${v.value}`), ["1:0", "1:3", "2:3"]);
    for (const h of [hv1, hv2]) membership.setState(membership.get(h)!, "alive");
    event({ type: "segmentRecovered", segment: "s", hosts: [hv1, hv2] });
    membership.setState(membership.get(hv2)!, "left");
    event({ type: "hostLeft", host: hv2 });
    assert.deepEqual(of(hv2, KEYS.hostState).map((v) => v.value), [3, 1, 2]);
    event({ type: "ringsChanged", assignmentsSent: 1, representatives: 1 }); // not about one host: nothing
    event({ type: "hostLate", host: hv1, reportedBy: hv2, silentMs: 5000 });
    assert.equal(of(hv1, KEYS.hostState).length, 3);
  });

  it("stats: one value per compacted value, inside the raw samples' span, whose min/max/avg equal the raw samples'", () => {
    values = [];
    const t0 = Date.UTC(2026, 10, 21, 12, 0, 0);
    const raw = new Map<string, { at: number; v: number }[]>([
      [`${U1}/cpu`, [120, 80, 950, 100, 100, 130, 90, 101].map((v, i) => ({ at: t0 + i * 1000, v }))], // per-mille of a CPU, quantized
      [`${U1}/balloon.current`, [1024, 1024, 1024].map((v, i) => ({ at: t0 + i * 1000, v }))],
      [`${U1}/net.tap0.rx.bytes`, [0, 0, 0, 0, 5_000_000, 0, 10, 0].map((v, i) => ({ at: t0 + i * 1000, v }))],
      [`${U1}/vcpu.1.delay`, [7].map((v, i) => ({ at: t0 + i * 1000, v }))],
      [`${U1}/bogus.metric`, [1, 2].map((v, i) => ({ at: t0 + i * 1000, v }))],
    ]);
    const batch: StatsBatch = { intervalStart: t0, intervalMs: 10_000, series: [] };
    for (const [k, pts] of raw) {
      const [d, metric] = [k.slice(0, 36), k.slice(37)];
      batch.series.push({ domain: d, metric, kind: metric === "cpu" || metric.startsWith("vcpu") ? "cpu" : metric.startsWith("balloon") ? "memory" : metric === "bogus.metric" ? "integer" : "rate", data: compactSamples(pts.map((p) => p.v), pts[0].at, pts[pts.length - 1].at) });
    }
    assert.ok(stats.apply(hv1, encodeStatsBatch(batch, { includeTable: true, exact: true, stream: 7, seq: 1, prevSeq: 0, chain: 1 }).bytes));
    const check = (key: string, series: string, scale: (q: number) => number) => {
      const got = of(hv1, key);
      const pts = raw.get(`${U1}/${series}`)!;
      const want = pts.map((p) => scale(p.v));
      assert.ok(got.length >= 1 && got.length <= pts.length, `${key}: ${got.length} values`);
      const nums = got.map((v) => Number(v.value));
      assert.equal(Math.min(...nums), Math.min(...want), `${key} min`);
      assert.equal(Math.max(...nums), Math.max(...want), `${key} max`);
      const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      assert.ok(Math.abs(avg(nums) - avg(want)) < 1e-9 * Math.max(1, Math.abs(avg(want))), `${key} avg ${avg(nums)} vs ${avg(want)}`);
      const stamps = got.map((v) => v.clock * 1e9 + v.ns);
      for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i] > stamps[i - 1], `${key}: timestamps strictly increase`);
      const span = [clockOf(pts[0].at), clockOf(pts[pts.length - 1].at)].map((c) => c.clock * 1e9 + c.ns);
      assert.ok(stamps[0] >= span[0] && stamps[stamps.length - 1] <= span[1], `${key}: inside the raw samples' span`);
      return got;
    };
    assert.ok(check(`ringwatch.vm.cpu[${U1}]`, "cpu", (q) => q / 10).length < 8, "compacted: fewer values than samples");
    assert.equal(check(`ringwatch.vm.memory.current[${U1}]`, "balloon.current", (q) => q * 1024).length, 1);
    check(`ringwatch.vm.net.rx.bytes[${U1},tap0]`, "net.tap0.rx.bytes", (q) => q);
    check(`ringwatch.vm.vcpu.delay[${U1},1]`, "vcpu.1.delay", (q) => q / 10);
    assert.equal(bridge.counters.unmappedSeries, 1, "the unknown metric is counted, not sent");
    assert.equal(values.length, values.filter((v) => v.key.startsWith("ringwatch.vm.")).length);
  });

  it("alerts: analytics become 1/0 problem items with the evidence as text; discovery errors a count and detail; bad subjects counted", () => {
    values = [];
    const at = Date.now() - 1500;
    alerts.apply(hv1, { kind: "vcpuAbuse", subject: U1, subjectName: "web1", active: true, evidenceJson: '{"busy":0.99,"victims":["db1"]}', atMs: at });
    assert.deepEqual(of(hv1, `ringwatch.vm.abuse[${U1}]`).map((v) => v.value), [1]);
    assert.deepEqual(JSON.parse(String(of(hv1, `ringwatch.vm.abuse.evidence[${U1}]`)[0].value)), { subject: "web1", busy: 0.99, victims: ["db1"] });
    assert.equal(of(hv1, `ringwatch.vm.abuse[${U1}]`)[0].clock, Math.floor(at / 1000), "the alert's own clock");
    alerts.apply(hv1, { kind: "vcpuAbuse", subject: U1, subjectName: "web1", active: false, evidenceJson: "{}", atMs: at + 1000 });
    assert.deepEqual(of(hv1, `ringwatch.vm.abuse[${U1}]`).map((v) => v.value), [1, 0]);
    alerts.apply(hv1, { kind: "microBurst", subject: U1, subjectName: "web1 net.tap0.rx.bytes", active: true, evidenceJson: '{"peak":9e7}', atMs: at });
    assert.deepEqual(of(hv1, `ringwatch.vm.burst[${U1}]`).map((v) => v.value), [1]);
    alerts.apply(hv1, { kind: "discoveryError", subject: "lldp", subjectName: "lldp", active: true, evidenceJson: '{"kind":"exit","detail":"status 3"}', atMs: at });
    assert.deepEqual(of(hv1, KEYS.discoveryErrors).map((v) => v.value), [1]);
    assert.equal(JSON.parse(String(of(hv1, KEYS.discoveryErrorsDetail)[0].value))[0].script, "lldp");
    alerts.apply(hv1, { kind: "discoveryError", subject: "lldp", subjectName: "lldp", active: false, evidenceJson: "{}", atMs: at });
    assert.deepEqual(of(hv1, KEYS.discoveryErrors).map((v) => v.value), [1, 0]);
    alerts.apply(hv1, { kind: "hostMemoryLeak", subject: "host", subjectName: hv1, active: true, evidenceJson: '{"slopeKiBPerMin":5000}', atMs: at });
    assert.deepEqual(of(hv1, KEYS.hostMemoryLeak).map((v) => v.value), [1]);
    assert.equal(JSON.parse(String(of(hv1, KEYS.hostMemoryLeakEvidence)[0].value)).slopeKiBPerMin, 5000);
    alerts.apply(hv1, { kind: "libvirtUnreachable", subject: "libvirt", subjectName: "qemu:///system", active: true, evidenceJson: '{"error":"Failed to connect socket"}', atMs: at });
    alerts.apply(hv1, { kind: "libvirtUnreachable", subject: "libvirt", subjectName: "qemu:///system", active: false, evidenceJson: '{"awayMs":30000}', atMs: at + 30_000 });
    assert.deepEqual(of(hv1, KEYS.libvirtUnreachable).map((v) => v.value), [1, 0]);
    assert.equal(JSON.parse(String(of(hv1, KEYS.libvirtUnreachableEvidence)[0].value)).error, "Failed to connect socket");
    const before = values.length;
    alerts.apply(hv1, { kind: "memoryLeak", subject: "not-a-uuid", subjectName: "x", active: true, evidenceJson: "{}", atMs: at });
    assert.equal(values.length, before);
    assert.equal(bridge.counters.badAlerts, 1);
  });

  it("recovery: the ladder's level and step at each step (0 at its end); actions on a guest from the audit log, by anyone; others ignored", () => {
    values = [];
    const k = recoveryItemKeys(U1);
    const level = (lv: number, step: string, outcome = "ok") => ladderLevels.emit("level", { ladder: "L1", uuid: U1.toUpperCase(), name: "web1", host: hv1, level: lv, step, outcome, detail: `${step} detail`, at: Date.now() });
    level(1, "notify");
    level(2, "reboot", "refused");
    level(4, "escalate");
    level(0, "end");
    assert.deepEqual(of(hv1, k.level).map((v) => v.value), [1, 2, 4, 0]);
    const steps = of(hv1, k.step).map((v) => JSON.parse(String(v.value)) as { step: string; outcome: string; guest: string });
    assert.deepEqual(steps.map((x) => `${x.step}:${x.outcome}`), ["notify:ok", "reboot:refused", "escalate:ok", "end:ok"]);
    assert.equal(steps[0].guest, "web1");
    const entry = (e: Partial<AuditEntry>): void => void auditEntries.emit("entry", { seq: 7, time: new Date().toISOString(), actor: "token:zbx", via: "token", from: "10.0.0.9", action: "domainAction", target: U1, outcome: "ok", detail: { action: "reset", reason: "Zabbix user Admin, event 42", host: hv1, state: "running" }, ...e });
    entry({});
    entry({ action: "signIn", target: "alice" }); // not an action on a guest
    entry({ target: "not-a-uuid" });
    entry({ outcome: "failed", detail: { action: "reset", error: "unknown-domain", message: "no such guest" } }); // no hypervisor named: no item to put it on
    entry({ actor: "ladder", via: "policy", action: "ladderAction", outcome: "denied", detail: { step: "reset", outcome: "refused", detail: "host-in-maintenance: hv1 is in maintenance", host: hv1 } });
    const acts = of(hv1, k.action).map((v) => JSON.parse(String(v.value)) as Record<string, string>);
    assert.deepEqual(acts.map((a) => `${a.actor}:${a.action}:${a.outcome}`), ["token:zbx:reset:ok", "ladder:reset:denied"]);
    assert.equal(acts[0].reason, "Zabbix user Admin, event 42");
    assert.equal(acts[0].state, "running");
    assert.match(acts[1].detail, /^host-in-maintenance/);
  });

  it("inventory changes push the discovery again (once per burst of events)", async () => {
    values = [];
    inventory.apply(hv1, { full: false, domains: [domain("5e1f0000-0000-4000-8000-0000000000b3", "new1")], removed: [U2], atMs: 0 });
    await waitUntil(() => of(hv1, KEYS.lldDomains).length > 0, 5000, "the discovery push");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(of(hv1, KEYS.lldDomains).length, 1, "one push for two events");
    assert.deepEqual((JSON.parse(String(of(hv1, KEYS.lldDomains)[0].value)) as Record<string, string>[]).map((r) => r["{#VM.NAME}"]).sort(), ["new1", "web1"]);
  });

  it("a host joining is created in Zabbix by a sync; unknown pairs from the sender trigger a sync", async () => {
    const hv3 = `rwtest-b3-${sfx}`;
    membership.upsert(host(hv3));
    const syncs = bridge.counters.syncs;
    event({ type: "hostJoined", host: hv3, segment: "s", address: "127.0.0.1:1984" });
    await waitUntil(() => bridge.counters.syncs > syncs && of(hv3, KEYS.hostState).length > 0, 30_000, "the sync and the state of the new host");
    assert.equal((await api.call<unknown[]>("host.get", { output: ["hostid"], filter: { host: [hv3] } })).length, 1);
    const s2 = bridge.counters.syncs;
    bridge.handleUnknown([{ host: hv3, key: KEYS.hostState }]);
    await waitUntil(() => bridge.counters.syncs > s2, 30_000, "a sync after the unknown report");
  });

  it("while Zabbix refuses the sync, values for hosts it never confirmed wait (counted) and reach the sink on stop", async () => {
    const m = new Membership(1);
    m.upsert(host(`rwtest-never-${sfx}`));
    const out: ZabbixValue[] = [];
    const b = new ZabbixBridge({ membership: m, inventory: new InventoryStore(log), stats: new StatsStore(log), alerts: new AlertStore(log) },
      new ConfigSync(new ZabbixApi({ url: API_URL, user: `rw-nosuch-${sfx}`, password: "x" }), { names, hostGroup: group, hostPerDomain: false, log }), { push: (vs) => void out.push(...vs) }, OPTS, log);
    b.start();
    await waitUntil(() => b.counters.syncFailures >= 1, 30_000, "a failed sync");
    assert.match(b.lastSyncError ?? "", /incorrect user name or password/i);
    m.record({ type: "hostJoined", host: `rwtest-never-${sfx}`, segment: "s", address: "x", at: Date.now() });
    assert.equal(out.length, 0);
    assert.equal(b.holdback.size, 2);
    await b.stop();
    assert.deepEqual(out.map((v) => v.key), [KEYS.hostEvent, KEYS.hostState]);
  });

  it("without a config sync (Zabbix configured from the template file by hand) values go out at once", async () => {
    const m = new Membership(1);
    m.upsert(host("hand-made"));
    const inv = new InventoryStore(log);
    inv.apply("hand-made", { full: true, domains: [domain(U1, "web1")], removed: [], atMs: 0 });
    const out: ZabbixValue[] = [];
    const b = new ZabbixBridge({ membership: m, inventory: inv, stats: new StatsStore(log), alerts: new AlertStore(log) }, undefined, { push: (vs) => void out.push(...vs) }, OPTS, log);
    b.start();
    assert.deepEqual(out.filter((v) => v.key === KEYS.hostState).map((v) => v.value), [1]);
    assert.equal(out.filter((v) => v.key === KEYS.lldDomains).length, 1);
    m.record({ type: "hostLeft", host: "hand-made", at: Date.now() });
    assert.equal(out.filter((v) => v.key === KEYS.hostEvent).length, 1);
    b.handleUnknown([{ host: "hand-made", key: `ringwatch.vm.cpu[${U1}]` }]);
    assert.equal(out.filter((v) => v.key === KEYS.lldDomains).length, 2, "the discovery is pushed again");
    assert.equal(b.holdback.size, 0);
    await b.stop();
  });

  it("with a host per guest: each guest's discovery, stats and alerts go to its own host vm-<uuid>, created by the sync", async () => {
    const hvX = `rwtest-bx-${sfx}`;
    const m = new Membership(1);
    m.upsert(host(hvX));
    const inv = new InventoryStore(log);
    const st = new StatsStore(log);
    const al = new AlertStore(log);
    const u = "5e1f0000-0000-4000-8000-0000000000d1";
    inv.apply(hvX, { full: true, domains: [domain(u, "guest-d1")], removed: [], atMs: 0 });
    const out: ZabbixValue[] = [];
    const b = new ZabbixBridge({ membership: m, inventory: inv, stats: st, alerts: al }, new ConfigSync(api, { names, hostGroup: group, hostPerDomain: true, log }), { push: (vs) => void out.push(...vs) }, { ...OPTS, hostPerDomain: true }, log);
    b.start();
    try {
      const g = `vm-${u}`;
      await waitUntil(() => out.some((v) => v.host === g && v.key === KEYS.lldDomains), 60_000, "the guest host's discovery");
      assert.equal((await api.call<unknown[]>("host.get", { output: ["hostid"], filter: { host: [g] } })).length, 1, "the sync made the guest host");
      const rows = JSON.parse(String(out.find((v) => v.host === g && v.key === KEYS.lldDomains)!.value)) as Record<string, string>[];
      assert.deepEqual(rows.map((r) => r["{#VM.UUID}"]), [u]);
      assert.ok(out.some((v) => v.host === hvX && v.key === KEYS.hostState), "the hypervisor keeps its own items");
      assert.ok(!out.some((v) => v.host === hvX && v.key === KEYS.lldDomains), "but no guest discovery");
      const t0 = Date.now() - 3000;
      st.apply(hvX, encodeStatsBatch({ intervalStart: t0, intervalMs: 3000, series: [{ domain: u, metric: "cpu", kind: "cpu", data: compactSamples([10, 20, 30], t0, t0 + 2000) }] }, { includeTable: true, exact: true, stream: 9, seq: 1, prevSeq: 0, chain: 1 }).bytes);
      assert.deepEqual([...new Set(out.filter((v) => v.key === `ringwatch.vm.cpu[${u}]`).map((v) => v.host))], [g]);
      al.apply(hvX, { kind: "memoryLeak", subject: u, subjectName: "guest-d1", active: true, evidenceJson: "{}", atMs: Date.now() });
      assert.deepEqual(out.filter((v) => v.key === `ringwatch.vm.leak[${u}]`).map((v) => `${v.host}=${v.value}`), [`${g}=1`]);
    } finally {
      await b.stop();
      await cleanup(api, { hostGroups: [`${group}/guests`] });
    }
  });
});
