import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { ZabbixApi } from "../../../src/zabbix/config/api-client.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSync, sameExpression } from "../../../src/zabbix/config/config-sync.js";
import { DurableSender } from "../../../src/zabbix/sender/durable-sender.js";
import type { DesiredHosts } from "../../../src/zabbix/config/config-sync.js";
import { CMA_NOT_REPORTING, KEYS, TEMPLATES, lldRows } from "../../../src/zabbix/config/definitions.js";
import { API_URL, TRAPPER, adminApi, cleanup, ensureZabbix, eventually, suffix, testNames } from "../zabbix-server.js";

describe("cma/zabbix/config/config-sync (real Zabbix 6.0)", function () {
  this.timeout(120_000);
  const api = adminApi();
  const sfx = suffix();
  const names = testNames(sfx);
  const group = `rwtest ${sfx}`;
  const userGroup = `rwtest user ${sfx}`;
  const hv = (i: number) => `rwtest-hv${i}-${sfx}`;
  const sync = (hostPerDomain = false) => new ConfigSync(api, { names, hostGroup: group, hostPerDomain, log: silentLogger() });
  const desired = (hosts: string[], guests: [string, string][] = []): DesiredHosts => ({ hypervisors: new Map(hosts.map((h) => [h, ""])), guests: new Map(guests) });
  const templateId = async (n: string) => (await api.call<{ templateid: string }[]>("template.get", { output: ["templateid"], filter: { host: [n] } }))[0].templateid;

  before(ensureZabbix);
  after(async () => {
    await cleanup(api, { hostGroups: [group, `${group}/guests`, userGroup], templates: [names.hypervisorTemplate, names.guestTemplate, names.cmaTemplate], groups: [names.templateGroup] });
    await api.close();
  });

  it("compares expressions the way Zabbix answers them (spacing, resolved macros)", () => {
    assert.ok(sameExpression("last(/T/k)=0 or nodata(/T/k,5m)=1", "last(/T/k)=0 or nodata(/T/k,{$RINGWATCH.STATE.NODATA})=1"));
    assert.ok(sameExpression("last(/T/k[a,b])>0", "last(/T/k[a,b]) > 0"));
    assert.ok(!sameExpression("last(/T/k)=1", "last(/T/k)=0"));
    assert.ok(!sameExpression("last(/T/k2)=0", "last(/T/k)=0"));
  });

  it("creates templates, group and hosts, the CMA's own host and the host-down trigger's dependency on it; a second run changes nothing", async () => {
    const s = sync();
    const first = await s.sync(desired([hv(1), hv(2)]));
    const count = TEMPLATES.reduce((n, t) => n + 1 + t.items.length + t.triggers.length + t.valueMaps.length + t.discoveryRules.reduce((m, r) => m + 1 + r.itemPrototypes.length + r.triggerPrototypes.length, 0), 0);
    assert.equal(first.changes.length, count + 2 /* groups */ + 3 /* hosts, the CMA's too */ + 2 /* dependencies */, first.changes.join("\n"));
    assert.ok(first.changes.includes(`trigger.update ${names.hypervisorTemplate}/Hypervisor {HOST.NAME} is down (dependencies)`), first.changes.join("\n"));
    assert.ok(first.changes.includes(`trigger.update ${names.hypervisorTemplate}/Discovery scripts failing on {HOST.NAME} (dependencies)`), first.changes.join("\n"));
    assert.deepEqual([...first.hostIds.keys()].sort(), [hv(1), hv(2), names.cmaHost].sort());
    // the CMA's host carries the CMA template; each hypervisor's host-down trigger depends on its not-reporting trigger
    const [cmaHost] = await api.call<{ parentTemplates: { host: string }[]; tags: { tag: string; value: string }[]; items: { key_: string }[] }[]>("host.get", {
      output: ["hostid"], filter: { host: [names.cmaHost] }, selectParentTemplates: ["host"], selectTags: "extend", selectItems: ["key_"],
    });
    assert.deepEqual(cmaHost.parentTemplates.map((t) => t.host), [names.cmaTemplate]);
    assert.deepEqual(cmaHost.tags, [{ tag: "ringwatch", value: "cma" }]);
    assert.deepEqual(cmaHost.items.map((i) => i.key_).sort(), TEMPLATES.find((t) => t.role === "cma")!.items.map((i) => i.key).sort());
    const [parent] = await api.call<{ triggerid: string }[]>("trigger.get", { output: ["triggerid"], filter: { host: names.cmaHost, description: CMA_NOT_REPORTING } });
    const onHv = await api.call<{ triggerid: string; description: string; dependencies: { triggerid: string }[] }[]>("trigger.get", {
      output: ["triggerid", "description"], filter: { host: hv(1) }, selectDependencies: ["triggerid"],
    });
    // and discovery failing on the same host's libvirt unreachable (one cause, one problem)
    const libvirt = onHv.find((t) => t.description.startsWith("libvirt unreachable"))!;
    assert.deepEqual(onHv.filter((t) => t.dependencies.length).map((t) => [t.description, t.dependencies.map((d) => d.triggerid)]).sort(), [
      ["Discovery scripts failing on {HOST.NAME}", [libvirt.triggerid]],
      ["Hypervisor {HOST.NAME} is down", [parent.triggerid]],
    ]);
    const again = await sync().sync(desired([hv(1), hv(2)]));
    assert.deepEqual(again.changes, []);
    assert.deepEqual(again.hostIds, first.hostIds);
    const [host] = await api.call<{ parentTemplates: { host: string }[]; groups: { name: string }[]; tags: { tag: string; value: string }[] }[]>("host.get", {
      output: ["hostid"], filter: { host: [hv(1)] }, selectParentTemplates: ["host"], selectGroups: ["name"], selectTags: "extend",
    });
    assert.deepEqual(host.parentTemplates.map((t) => t.host).sort(), [names.guestTemplate, names.hypervisorTemplate].sort());
    assert.deepEqual(host.groups.map((g) => g.name), [group]);
    assert.deepEqual(host.tags, [{ tag: "ringwatch", value: "hypervisor" }]);
  });

  it("adopts a host that exists and never removes what it did not create; removes only its own obsolete objects", async () => {
    const { groupids: [ug] } = await api.call<{ groupids: string[] }>("hostgroup.create", { name: userGroup });
    const { hostids: [hid] } = await api.call<{ hostids: string[] }>("host.create", { host: hv(3), groups: [{ groupid: ug }], tags: [{ tag: "owner", value: "ops" }] });
    await api.call("item.create", { hostid: hid, name: "user item", key_: "user.item", type: 2, value_type: 3 });
    const hvTpl = await templateId(names.hypervisorTemplate);
    // a user's item and trigger on our template, a macro they retuned, and an item we made once but no longer define
    await api.call("item.create", { hostid: hvTpl, name: "user item", key_: "user.template.item", type: 2, value_type: 3 });
    await api.call("trigger.create", { description: "user trigger", expression: `last(/${names.hypervisorTemplate}/user.template.item)>5` });
    const [macro] = await api.call<{ hostmacroid: string }[]>("usermacro.get", { output: ["hostmacroid"], hostids: [hvTpl], filter: { macro: "{$RINGWATCH.STATE.NODATA}" } });
    await api.call("usermacro.update", { hostmacroid: macro.hostmacroid, value: "10m" });
    await api.call("item.create", { hostid: hvTpl, name: "obsolete", key_: "ringwatch.obsolete", type: 2, value_type: 3, tags: [{ tag: "ringwatch", value: "" }] });

    const r = await sync().sync(desired([hv(1), hv(2), hv(3)]));
    const inherited = await api.call<{ dependencies: { triggerid: string }[] }[]>("trigger.get", { output: ["triggerid"], hostids: [hid], filter: { description: "Hypervisor {HOST.NAME} is down" }, selectDependencies: ["triggerid"] });
    assert.equal(inherited[0].dependencies.length, 1, "an adopted host's host-down trigger depends on the CMA's too");
    assert.deepEqual(r.changes.sort(), [`host.massadd ${hv(3)} group 2 template(s)`, `host.update ${hv(3)} (tags)`, `item.delete ${names.hypervisorTemplate}/ringwatch.obsolete`].sort());
    const [host] = await api.call<{ parentTemplates: { host: string }[]; groups: { name: string }[]; tags: { tag: string; value: string }[]; items: { key_: string }[] }[]>("host.get", {
      output: ["hostid"], hostids: [hid], selectParentTemplates: ["host"], selectGroups: ["name"], selectTags: "extend", selectItems: ["key_"],
    });
    assert.deepEqual(host.groups.map((g) => g.name).sort(), [group, userGroup].sort());
    assert.deepEqual(host.tags.map((t) => `${t.tag}=${t.value}`).sort(), ["owner=ops", "ringwatch=hypervisor"]);
    assert.ok(host.items.some((i) => i.key_ === "user.item"), "the host's own item survives");
    assert.ok(host.items.some((i) => i.key_ === "ringwatch.host.state"), "and it has ours");
    const tplItems = await api.call<{ key_: string }[]>("item.get", { output: ["key_"], templateids: [hvTpl] });
    assert.ok(tplItems.some((i) => i.key_ === "user.template.item"));
    assert.ok(!tplItems.some((i) => i.key_ === "ringwatch.obsolete"));
    const triggers = await api.call<{ description: string }[]>("trigger.get", { output: ["description"], templateids: [hvTpl] });
    assert.ok(triggers.some((t) => t.description === "user trigger"));
    const [m] = await api.call<{ value: string }[]>("usermacro.get", { output: ["value"], hostids: [hvTpl], filter: { macro: "{$RINGWATCH.STATE.NODATA}" } });
    assert.equal(m.value, "10m", "a retuned macro keeps its value");
    assert.deepEqual((await sync().sync(desired([hv(1), hv(2), hv(3)]))).changes, []);
  });

  it("repairs hand edits of what it owns", async () => {
    const hvTpl = await templateId(names.hypervisorTemplate);
    const [item] = await api.call<{ itemid: string }[]>("item.get", { output: ["itemid"], templateids: [hvTpl], filter: { key_: "ringwatch.host.domains" } });
    await api.call("item.update", { itemid: item.itemid, units: "bananas", history: "1d" });
    const [trig] = await api.call<{ triggerid: string }[]>("trigger.get", { output: ["triggerid"], templateids: [hvTpl], filter: { description: "Discovery scripts failing on {HOST.NAME}" } });
    await api.call("trigger.update", { triggerid: trig.triggerid, priority: 5 });
    const [down] = await api.call<{ triggerid: string }[]>("trigger.get", { output: ["triggerid"], templateids: [hvTpl], filter: { description: "Hypervisor {HOST.NAME} is down" } });
    await api.call("trigger.update", { triggerid: down.triggerid, dependencies: [] });
    const r = await sync().sync(desired([hv(1)]));
    assert.deepEqual(r.changes.sort(), [
      `item.update ${names.hypervisorTemplate}/ringwatch.host.domains (units, history)`,
      `trigger.update ${names.hypervisorTemplate}/Discovery scripts failing on {HOST.NAME} (priority)`,
      `trigger.update ${names.hypervisorTemplate}/Hypervisor {HOST.NAME} is down (dependencies)`,
    ].sort());
    assert.deepEqual((await sync().sync(desired([hv(1)]))).changes, []);
  });

  it("removed hosts: disabled and tagged (deleted with purge), enabled again when they join again; a host without our tag is never touched", async () => {
    const status = async (h: string) => (await api.call<{ status: string; tags: { tag: string; value: string }[] }[]>("host.get", { output: ["status"], filter: { host: [h] }, selectTags: "extend" }))[0];
    const { hostids: [foreign] } = await api.call<{ hostids: string[] }>("host.create", { host: hv(4), groups: [{ groupid: (await api.call<{ groupid: string }[]>("hostgroup.get", { output: ["groupid"], filter: { name: [group] } }))[0].groupid }] });
    const retire = (h: string[], purge: boolean): DesiredHosts => ({ ...desired([hv(1)]), retired: new Map(h.map((x) => [x, purge])) });
    const r = await sync().sync(retire([hv(2), hv(4)], false));
    assert.deepEqual(r.changes, [`host.update ${hv(2)} (disabled: removed)`]);
    const s2 = await status(hv(2));
    assert.equal(s2.status, "1");
    assert.ok(s2.tags.some((t) => t.tag === "ringwatch" && t.value === "removed"));
    assert.equal((await status(hv(4))).status, "0", "not ours: untouched");
    assert.deepEqual((await sync().sync(retire([hv(2)], false))).changes, [], "idempotent");
    const back = await sync().sync(desired([hv(1), hv(2)]));
    assert.deepEqual(back.changes, [`host.update ${hv(2)} (enabled: joined again)`]);
    const s3 = await status(hv(2));
    assert.equal(s3.status, "0");
    assert.ok(!s3.tags.some((t) => t.value === "removed"));
    const purged = await sync().sync(retire([hv(2), hv(4)], true));
    assert.deepEqual(purged.changes, [`host.delete ${hv(2)} (removed, purged)`]);
    assert.equal(await status(hv(2)), undefined);
    assert.ok(await status(hv(4)), "not ours: never deleted");
    await api.call("host.delete", [foreign]);
    await sync().sync(desired([hv(1), hv(2)])); // the next tests expect hv(2)
  });

  it("with a host per guest: guest hosts in <group>/guests linked to the guest template only", async () => {
    const u = "5e1f0000-0000-4000-8000-0000000000aa";
    const s = sync(true);
    const r = await s.sync(desired([hv(4)], [[`vm-${u}`, `guest a (${u}) ${sfx}`]]));
    assert.ok(r.changes.includes(`host.create vm-${u}`), r.changes.join("\n"));
    const got = await api.call<{ host: string; parentTemplates: { host: string }[]; groups: { name: string }[] }[]>("host.get", {
      output: ["host"], filter: { host: [`vm-${u}`, hv(4)] }, selectParentTemplates: ["host"], selectGroups: ["name"],
    });
    const guest = got.find((h) => h.host === `vm-${u}`)!;
    assert.deepEqual(guest.parentTemplates.map((t) => t.host), [names.guestTemplate]);
    assert.deepEqual(guest.groups.map((g) => g.name), [`${group}/guests`]);
    assert.deepEqual(got.find((h) => h.host === hv(4))!.parentTemplates.map((t) => t.host), [names.hypervisorTemplate]);
    assert.deepEqual((await s.sync(desired([hv(4)], [[`vm-${u}`, `guest a (${u}) ${sfx}`]]))).changes, []);
  });

  it("low-level discovery: the discovery values for a new guest (through the real sender) make its items", async () => {
    const spool = mkdtempSync(join(tmpdir(), "rw-lld-spool-"));
    const sender = DurableSender.start({ server: TRAPPER, spoolDir: spool, spoolMaxBytes: 16 << 20, batchMax: 100, batchMs: 50, connectTimeoutMs: 2000, replyTimeoutMs: 5000, backoffMaxMs: 500, unknownHoldMs: 60_000, compress: false }, silentLogger());
    try {
      const u = "5e1f0000-0000-4000-8000-0000000000cc";
      const { rows } = lldRows([{ uuid: u, name: `lld-vm-${sfx}`, state: "running", vcpus: 2, memoryKib: 1024, disks: [{ target: "vdb", source: "/img/b" }], nics: [{ target: "tap9", mac: "52:54:00:00:00:09", bridge: "br0", network: "" }] }]);
      const clock = Math.floor(Date.now() / 1000);
      sender.push(Object.entries(rows).map(([key, r]) => ({ host: hv(1), key, value: JSON.stringify(r), clock, ns: 0 })));
      const [host] = await api.call<{ hostid: string }[]>("host.get", { output: ["hostid"], filter: { host: [hv(1)] } });
      const guest = TEMPLATES.find((t) => t.role === "guest")!;
      const want = guest.discoveryRules.reduce((n, r) => n + r.itemPrototypes.length * (r.key === KEYS.lldVcpus ? 2 : 1), 0);
      const items = await eventually(async () => {
        const got = await api.call<{ key_: string; name: string }[]>("item.get", { output: ["key_", "name"], hostids: [host.hostid], search: { key_: u } });
        return got.length === want ? got : undefined;
      }, 60_000, `the ${want} items of the discovered guest`);
      assert.ok(items.some((i) => i.key_ === `ringwatch.vm.disk.read.bytes[${u},vdb]` && i.name.includes(`lld-vm-${sfx}`)));
      assert.ok(items.some((i) => i.key_ === `ringwatch.vm.vcpu.delay[${u},1]`));
      assert.ok(items.some((i) => i.key_ === `ringwatch.vm.net.tx.drops[${u},tap9]`));
      const triggers = await api.call<{ description: string }[]>("trigger.get", { output: ["description"], hostids: [host.hostid], search: { description: `lld-vm-${sfx}` } });
      assert.equal(triggers.length, guest.discoveryRules.reduce((n, r) => n + r.triggerPrototypes.length, 0), "trigger prototypes made triggers");
    } finally {
      await sender.stop();
      rmSync(spool, { recursive: true, force: true });
    }
  });

  it("a sync against an API that refuses it fails with the API's error and counts it", async () => {
    const bad = new ConfigSync(new ZabbixApi({ url: API_URL, user: `rw-nosuch-${sfx}`, password: "x" }), { names, hostGroup: group, hostPerDomain: false, log: silentLogger() });
    await assert.rejects(bad.sync(desired([hv(1)])), /user\.login: .*incorrect user name or password/i);
    assert.equal(bad.counters.failures, 1);
  });
});
