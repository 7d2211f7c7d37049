import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { CMA_NOT_REPORTING, DEFAULT_NAMES, TEMPLATES } from "../../../src/zabbix/config/definitions.js";
import { templateExport, templateYaml } from "../../../src/zabbix/config/template-export.js";
import { adminApi, cleanup, ensureZabbix, suffix, testNames } from "../zabbix-server.js";

const SHIPPED = fileURLToPath(new URL("../../../../../deploy/zabbix/ringwatch_libvirt_templates.yaml", import.meta.url));
const CLI = fileURLToPath(new URL("../../../src/cli.js", import.meta.url));

type Obj = Record<string, unknown> & { uuid?: string };

function allUuids(o: unknown, out: string[] = []): string[] {
  if (Array.isArray(o)) for (const x of o) allUuids(x, out);
  else if (o && typeof o === "object") for (const [k, v] of Object.entries(o)) k === "uuid" ? out.push(String(v)) : allUuids(v, out);
  return out;
}

describe("cma/zabbix/config/template-export", function () {
  this.timeout(120_000);

  it("is a Zabbix 6.0 export with the three templates, the CMA's host, every definition, and unique stable UUIDs", () => {
    const text = templateYaml();
    assert.equal(text, templateYaml(), "deterministic");
    const doc = parse(text) as { zabbix_export: { version: string; templates: Obj[]; groups: Obj[] } };
    assert.equal(doc.zabbix_export.version, "6.0");
    assert.deepEqual(doc.zabbix_export.groups.map((g) => g.name), [DEFAULT_NAMES.templateGroup, DEFAULT_NAMES.hostGroup]);
    const [hv, guest, cma] = doc.zabbix_export.templates as (Obj & { items?: Obj[]; discovery_rules?: (Obj & { item_prototypes: Obj[]; trigger_prototypes?: Obj[] })[] })[];
    assert.equal(hv.template, DEFAULT_NAMES.hypervisorTemplate);
    assert.equal(guest.template, DEFAULT_NAMES.guestTemplate);
    assert.equal(cma.template, DEFAULT_NAMES.cmaTemplate);
    assert.deepEqual(cma.items!.map((i) => i.key), TEMPLATES.find((t) => t.role === "cma")!.items.map((i) => i.key));
    // the CMA's own host, whose trigger the host-down trigger depends on
    const hosts = (doc.zabbix_export as unknown as { hosts: { host: string; templates: { name: string }[] }[] }).hosts;
    assert.deepEqual(hosts.map((h) => [h.host, h.templates.map((t) => t.name)]), [[DEFAULT_NAMES.cmaHost, [DEFAULT_NAMES.cmaTemplate]]]);
    const down = (hv.items!.find((i) => i.key === "ringwatch.host.state")!.triggers as Obj[]).find((t) => String(t.name).endsWith("is down"))!;
    assert.deepEqual(down.dependencies, [{ name: CMA_NOT_REPORTING, expression: `nodata(/${DEFAULT_NAMES.cmaHost}/ringwatch.cma.heartbeat,{$RINGWATCH.CMA.NODATA})=1` }]);
    const defHv = TEMPLATES.find((t) => t.role === "hypervisor")!;
    const defGuest = TEMPLATES.find((t) => t.role === "guest")!;
    assert.deepEqual(hv.items!.map((i) => i.key), defHv.items.map((i) => i.key));
    assert.ok(hv.items!.every((i) => i.type === "TRAP"));
    assert.deepEqual(guest.discovery_rules!.map((r) => r.key), defGuest.discoveryRules.map((r) => r.key));
    assert.deepEqual(guest.discovery_rules!.flatMap((r) => r.item_prototypes.map((p) => p.key)), defGuest.discoveryRules.flatMap((r) => r.itemPrototypes.map((p) => p.key)));
    const triggers = TEMPLATES.flatMap((t) => [...t.triggers, ...t.discoveryRules.flatMap((r) => r.triggerPrototypes)]);
    assert.equal(text.match(/^\s+expression: /gm)!.length, triggers.length + triggers.reduce((n, t) => n + (t.dependsOnCma?.length ?? 0) + (t.dependsOn?.length ?? 0), 0), "each trigger's and each dependency's");
    const discovery = (hv.items!.find((i) => i.key === "ringwatch.discovery.errors")!.triggers as Obj[])[0];
    assert.deepEqual(discovery.dependencies, [{ name: "libvirt unreachable on {HOST.NAME}: guests not monitored", expression: `last(/${DEFAULT_NAMES.hypervisorTemplate}/ringwatch.libvirt.unreachable)=1` }]);
    const uuids = allUuids(doc);
    assert.equal(new Set(uuids).size, uuids.length, "unique");
    for (const u of uuids) assert.match(u, /^[0-9a-f]{32}$/);
    // names from the configuration change the names and UUIDs, not the shape
    const other = templateExport(testNames("x"));
    assert.notDeepEqual(allUuids(other), uuids);
  });

  it("the shipped file deploy/zabbix/ringwatch_libvirt_templates.yaml is exactly what the definitions generate", () => {
    assert.equal(readFileSync(SHIPPED, "utf8"), templateYaml(), "regenerate it: node cma/dist/src/cli.js zabbix-template --out deploy/zabbix/ringwatch_libvirt_templates.yaml");
  });

  it("`ringwatch-cma zabbix-template` writes it to stdout or a file, with the configured names", () => {
    assert.equal(execFileSync(process.execPath, [CLI, "zabbix-template"], { encoding: "utf8" }), templateYaml());
    const dir = mkdtempSync(join(tmpdir(), "rw-tpl-"));
    try {
      const names = testNames("cli");
      execFileSync(process.execPath, [CLI, "zabbix-template", "--out", join(dir, "t.yaml")], {
        env: {
          ...process.env, RINGWATCH_ZABBIX_HYPERVISOR_TEMPLATE: names.hypervisorTemplate, RINGWATCH_ZABBIX_GUEST_TEMPLATE: names.guestTemplate, RINGWATCH_ZABBIX_TEMPLATE_GROUP: names.templateGroup,
          RINGWATCH_ZABBIX_CMA_TEMPLATE: names.cmaTemplate, RINGWATCH_ZABBIX_CMA_HOST: names.cmaHost, RINGWATCH_ZABBIX_HOST_GROUP: names.hostGroup,
        },
        stdio: "pipe",
      });
      assert.equal(readFileSync(join(dir, "t.yaml"), "utf8"), templateYaml(names));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("imported into the real Zabbix 6.0", () => {
    const api = adminApi();
    const names = testNames(suffix());
    before(ensureZabbix);
    after(async () => {
      await cleanup(api, { hostGroups: [names.hostGroup], templates: [names.hypervisorTemplate, names.guestTemplate, names.cmaTemplate], groups: [names.templateGroup] });
      await api.close();
    });

    it("imports cleanly (configuration.import), twice, and holds every item, rule, prototype and trigger; the host-down trigger depends on the CMA host's", async () => {
      const [major, minor] = await api.versionNumber();
      const rules = {
        templates: { createMissing: true, updateExisting: true }, items: { createMissing: true, updateExisting: true },
        discoveryRules: { createMissing: true, updateExisting: true }, triggers: { createMissing: true, updateExisting: true },
        valueMaps: { createMissing: true, updateExisting: true }, hosts: { createMissing: true, updateExisting: true }, templateLinkage: { createMissing: true },
        ...(major === 6 && minor < 2 ? { groups: { createMissing: true } } : { template_groups: { createMissing: true }, host_groups: { createMissing: true } }),
      };
      for (let i = 0; i < 2; i++) assert.equal(await api.call("configuration.import", { format: "yaml", source: templateYaml(names), rules }), true);
      const tpls = await api.call<{ templateid: string; host: string }[]>("template.get", { output: ["templateid", "host"], filter: { host: [names.hypervisorTemplate, names.guestTemplate] } });
      assert.equal(tpls.length, 2);
      const id = (n: string) => tpls.find((t) => t.host === n)!.templateid;
      const defHv = TEMPLATES.find((t) => t.role === "hypervisor")!;
      const defGuest = TEMPLATES.find((t) => t.role === "guest")!;
      const items = await api.call<{ key_: string; type: string }[]>("item.get", { output: ["key_", "type"], templateids: [id(names.hypervisorTemplate)] });
      assert.deepEqual(items.map((i) => i.key_).sort(), defHv.items.map((i) => i.key).sort());
      assert.ok(items.every((i) => i.type === "2"), "trapper items");
      const triggers = await api.call<{ description: string }[]>("trigger.get", { output: ["description"], templateids: [id(names.hypervisorTemplate)] });
      assert.deepEqual(triggers.map((t) => t.description).sort(), defHv.triggers.map((t) => t.name).sort());
      const rulesGot = await api.call<{ key_: string; type: string }[]>("discoveryrule.get", { output: ["key_", "type"], templateids: [id(names.guestTemplate)] });
      assert.deepEqual(rulesGot.map((r) => r.key_).sort(), defGuest.discoveryRules.map((r) => r.key).sort());
      const protos = await api.call<{ key_: string }[]>("itemprototype.get", { output: ["key_"], templateids: [id(names.guestTemplate)] });
      assert.equal(protos.length, defGuest.discoveryRules.flatMap((r) => r.itemPrototypes).length);
      const tprotos = await api.call<{ description: string }[]>("triggerprototype.get", { output: ["description"], templateids: [id(names.guestTemplate)] });
      assert.deepEqual(tprotos.map((t) => t.description).sort(), defGuest.discoveryRules.flatMap((r) => r.triggerPrototypes.map((t) => t.name)).sort());
      const [cmaTrigger] = await api.call<{ triggerid: string }[]>("trigger.get", { output: ["triggerid"], filter: { host: names.cmaHost, description: CMA_NOT_REPORTING } });
      assert.ok(cmaTrigger, "the CMA's host has its not-reporting trigger");
      const deps = await api.call<{ triggerid: string; description: string; dependencies: { triggerid: string }[] }[]>("trigger.get", { output: ["triggerid", "description"], templateids: [id(names.hypervisorTemplate)], selectDependencies: ["triggerid"] });
      const libvirt = deps.find((t) => t.description.startsWith("libvirt unreachable"))!;
      assert.deepEqual(deps.filter((t) => t.dependencies.length).map((t) => [t.description, t.dependencies.map((d) => d.triggerid)]).sort(), [
        ["Discovery scripts failing on {HOST.NAME}", [libvirt.triggerid]],
        ["Hypervisor {HOST.NAME} is down", [cmaTrigger.triggerid]],
      ]);
    });
  });
});
