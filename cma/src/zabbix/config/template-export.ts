/**
 * The Zabbix template export (YAML, `zabbix_export` version '6.0', importable into Zabbix 6.0 and
 * later) for libvirt hypervisors monitored by ringwatch, generated from definitions.ts — the same
 * definitions the API sync applies, with the same stable UUIDs, so importing it by hand and
 * letting the CMA sync describe one and the same template. Zabbix itself ships no libvirt/KVM template.
 * Fields at their Zabbix default are left out, as Zabbix's own exporter does.
 */
import { stringify } from "yaml";
import { DEFAULT_NAMES, OWNER_TAG, TEMPLATES, cmaHostTrigger, stableUuid, templateName, templateTrigger, triggerExpression, zabbixHostName } from "./definitions.js";
import type { ItemDef, Severity, TemplateDef, TriggerDef, ValueType, ZabbixNames } from "./definitions.js";

const VALUE_TYPE: Record<ValueType, string | undefined> = { float: "FLOAT", unsigned: undefined, char: "CHAR", text: "TEXT" };
const PRIORITY: Record<Severity, string> = { info: "INFO", warning: "WARNING", average: "AVERAGE", high: "HIGH", disaster: "DISASTER" };

type Yaml = Record<string, unknown>;

function withoutEmpty(o: Yaml): Yaml {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0)));
}

function tags(t: { tag: string; value: string }[]): Yaml[] {
  return t.map((x) => withoutEmpty({ tag: x.tag, value: x.value }));
}

function trigger(t: TriggerDef, tpl: string, names: ZabbixNames): Yaml {
  const cmaHost = zabbixHostName(names.cmaHost);
  const role = TEMPLATES.find((d) => templateName(d.role, names) === tpl)!.role;
  return withoutEmpty({
    uuid: stableUuid(tpl, "trigger", t.name),
    expression: triggerExpression(t, tpl),
    name: t.name,
    opdata: t.opdata,
    priority: PRIORITY[t.priority],
    description: t.description,
    // a trigger depended on is named by its name and expression, as Zabbix exports it: one of this
    // template's, or the CMA host's (below)
    dependencies: [
      ...(t.dependsOn ?? []).map((n) => ({ name: n, expression: triggerExpression(templateTrigger(role, n), tpl) })),
      ...(t.dependsOnCma ?? []).map((n) => ({ name: n, expression: triggerExpression(cmaHostTrigger(n), cmaHost) })),
    ],
    tags: tags(t.tags),
  });
}

function item(i: ItemDef, tpl: string, triggers: TriggerDef[], names: ZabbixNames): Yaml {
  return withoutEmpty({
    uuid: stableUuid(tpl, "item", i.key),
    name: i.name,
    type: "TRAP",
    key: i.key,
    delay: "0",
    history: i.history === "90d" ? undefined : i.history,
    trends: i.trends === "365d" ? undefined : i.trends,
    value_type: VALUE_TYPE[i.valueType],
    units: i.units,
    description: i.description,
    valuemap: i.valueMap ? { name: i.valueMap } : undefined,
    tags: tags(i.tags),
    // a trigger on one item is exported under that item (Zabbix's own layout)
    triggers: triggers.filter((t) => referencedKeys(t).length === 1 && referencedKeys(t)[0] === i.key).map((t) => trigger(t, tpl, names)),
  });
}

/** Item keys a trigger expression references. */
export function referencedKeys(t: TriggerDef): string[] {
  const keys = new Set<string>();
  for (const m of t.expression.matchAll(/\/\{T\}\/([^,)]+(?:\[[^\]]*\])?)/g)) keys.add(m[1]);
  return [...keys];
}

function template(def: TemplateDef, names: ZabbixNames): Yaml {
  const tpl = templateName(def.role, names);
  const single = (ts: TriggerDef[]) => ts.filter((t) => referencedKeys(t).length === 1);
  return withoutEmpty({
    uuid: stableUuid(tpl, "template"),
    template: tpl,
    name: tpl,
    description: def.description,
    groups: [{ name: names.templateGroup }],
    items: def.items.map((i) => item(i, tpl, single(def.triggers), names)),
    discovery_rules: def.discoveryRules.map((r) => withoutEmpty({
      uuid: stableUuid(tpl, "discovery", r.key),
      name: r.name,
      type: "TRAP",
      key: r.key,
      delay: "0",
      lifetime: r.lifetime,
      description: r.description,
      item_prototypes: r.itemPrototypes.map((p) => renameKey(item(p, tpl, single(r.triggerPrototypes), names), "triggers", "trigger_prototypes")),
      trigger_prototypes: r.triggerPrototypes.filter((t) => referencedKeys(t).length !== 1).map((t) => trigger(t, tpl, names)),
    })),
    tags: tags(def.tags),
    macros: def.macros.map((m) => withoutEmpty({ macro: m.macro, value: m.value, description: m.description })),
    valuemaps: def.valueMaps.map((v) => ({
      uuid: stableUuid(tpl, "valuemap", v.name),
      name: v.name,
      mappings: v.mappings.map((m) => ({ value: m.value, newvalue: m.newValue })),
    })),
  });
}

function renameKey(o: Yaml, from: string, to: string): Yaml {
  if (!(from in o)) return o;
  const { [from]: v, ...rest } = o;
  return { ...rest, [to]: v };
}

/**
 * The export document (an object; see templateYaml for the text). It carries the CMA's own host
 * too (linked to the CMA template): the hypervisors' host-down trigger depends on its trigger, and
 * Zabbix resolves such a dependency on import only when that host exists.
 */
export function templateExport(names: ZabbixNames = DEFAULT_NAMES): Yaml {
  const multi = TEMPLATES.flatMap((d) => d.triggers.filter((t) => referencedKeys(t).length !== 1).map((t) => trigger(t, templateName(d.role, names), names)));
  const cmaHost = zabbixHostName(names.cmaHost);
  return {
    zabbix_export: withoutEmpty({
      version: "6.0",
      groups: [
        { uuid: stableUuid(names.templateGroup, "group"), name: names.templateGroup },
        { uuid: stableUuid(names.hostGroup, "group"), name: names.hostGroup },
      ],
      templates: TEMPLATES.map((d) => template(d, names)),
      hosts: [{
        host: cmaHost, name: cmaHost, templates: [{ name: names.cmaTemplate }], groups: [{ name: names.hostGroup }], tags: [{ tag: OWNER_TAG, value: "cma" }],
      }],
      triggers: multi,
    }),
  };
}

/** The YAML text, as `ringwatch-cma zabbix-template` writes it. */
export function templateYaml(names: ZabbixNames = DEFAULT_NAMES): string {
  return stringify(templateExport(names), { lineWidth: 0, defaultStringType: "PLAIN", defaultKeyType: "PLAIN" });
}
