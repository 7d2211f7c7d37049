/**
 * Configuration sync through the Zabbix API: makes Zabbix hold what definitions.ts describes.
 *
 * - Templates (hypervisor + guests) in a template group, with their value maps, macros, trapper
 *   items, triggers, trapper discovery rules, item and trigger prototypes; the same UUIDs as the
 *   YAML export, so a hand import and the sync describe one template.
 * - The CMA's own host, linked to the CMA template (heartbeat, CMA-side monitoring errors); the
 *   hypervisors' host-down trigger depends on its "not reporting" trigger.
 * - A host group and one host per hypervisor linked to the templates (optionally one host per guest,
 *   linked to the guest template). A host that already exists (say, watched by the Zabbix agent
 *   under the same name) is adopted: our group, templates and tag are added, nothing of its own is
 *   replaced or removed.
 *
 * Idempotent: objects are found by name / key, compared field by field, and created or updated
 * only when they differ, so a second run changes nothing. Deletes only what it owns and no longer
 * defines: items and triggers tagged `ringwatch` and discovery rules keyed `ringwatch.*` on its own
 * templates. Macros a user retuned on our templates keep their value.
 *
 * Hosts removed from ringwatch (`ringwatch-cma host remove`) are disabled and tagged
 * `ringwatch: removed`; deleted only when the removal asked for a purge. Only hosts carrying the
 * ringwatch tag are touched. A removed host that joins again is enabled again (when the tag says we
 * disabled it). Groups and anything it did not create are never deleted.
 */
import type { Logger } from "@ringwatch/shared";
import { versionAtLeast } from "./api-client.js";
import type { ZabbixApi } from "./api-client.js";
import { syncScripts } from "./scripts-sync.js";
import type { ScriptsOptions } from "./scripts-sync.js";
import { syncAction } from "./action-sync.js";
import type { ActionOptions } from "./action-sync.js";
import { KEY_PREFIX, OWNER_TAG, TEMPLATES, stableUuid, templateName, triggerExpression, zabbixHostName } from "./definitions.js";
import type { DiscoveryRuleDef, ItemDef, Severity, Tag, TemplateDef, TriggerDef, ValueMapDef, ValueType, ZabbixNames } from "./definitions.js";

const VALUE_TYPE: Record<ValueType, string> = { float: "0", char: "1", unsigned: "3", text: "4" };
const PRIORITY: Record<Severity, string> = { info: "1", warning: "2", average: "3", high: "4", disaster: "5" };
const TRAPPER = "2";

export interface SyncOptions {
  names: ZabbixNames;
  /** group of the hypervisor hosts (guest hosts go to "<group>/guests") */
  hostGroup: string;
  hostPerDomain: boolean;
  log: Logger;
  /** global scripts calling the CMA's API (manual event actions on guests' problems); absent: none */
  scripts?: ScriptsOptions;
  /** the action running seed 001's escalation with those scripts (zabbixCreateActions); absent: none */
  action?: ActionOptions;
}

/** Hosts Zabbix should have: Zabbix technical name → visible name. */
export interface DesiredHosts {
  hypervisors: Map<string, string>;
  /** hypervisors taken out of service: Zabbix technical name → purge (delete) rather than disable */
  retired?: Map<string, boolean>;
  /** only used when hosts per guest are enabled */
  guests: Map<string, string>;
}

export interface SyncReport {
  /** one line per object created, updated or deleted ("item.create Ringwatch…/ringwatch.host.state") */
  changes: string[];
  /** Zabbix host name → hostid of every desired host (all exist after a successful sync) */
  hostIds: Map<string, string>;
}

interface ZTag {
  tag: string;
  value: string;
}
interface ZItem {
  itemid: string;
  key_: string;
  name: string;
  type: string;
  value_type: string;
  units: string;
  description: string;
  history: string;
  trends: string;
  valuemapid: string;
  tags: ZTag[];
}
interface ZRule {
  itemid: string;
  key_: string;
  name: string;
  type: string;
  lifetime: string;
  description: string;
}
interface ZTrigger {
  triggerid: string;
  description: string;
  expression: string;
  priority: string;
  comments: string;
  opdata: string;
  tags: ZTag[];
}
interface ZTemplate {
  templateid: string;
  host: string;
  name: string;
  description: string;
  groups?: { groupid: string }[];
  templategroups?: { groupid: string }[];
  tags: ZTag[];
  macros: { macro: string; value: string }[];
}
interface ZHost {
  hostid: string;
  host: string;
  name: string;
  /** "0" monitored, "1" disabled */
  status: string;
  groups: { groupid: string }[];
  parentTemplates: { templateid: string }[];
  tags: ZTag[];
}
interface ZValueMap {
  valuemapid: string;
  name: string;
  mappings: { value: string; newvalue: string }[];
}

const ITEM_FIELDS = ["itemid", "key_", "name", "type", "value_type", "units", "description", "history", "trends", "valuemapid"];
const TRIGGER_FIELDS = ["triggerid", "description", "expression", "priority", "comments", "opdata"];
const HOST_CHUNK = 500;
/** The tag a host gets when ringwatch disables it (so that only such a host is enabled again on return). */
const REMOVED_TAG: Tag = { tag: OWNER_TAG, value: "removed" };

const tagKey = (t: ZTag): string => `${t.tag}\u0000${t.value}`;
/** Tags to set: ours plus any the object carries that we did not define (never drop a user's tag). */
function tagUnion(want: Tag[], have: ZTag[] = []): ZTag[] {
  const m = new Map<string, ZTag>();
  for (const t of [...want, ...have]) m.set(tagKey(t), { tag: t.tag, value: t.value });
  return [...m.values()];
}
const hasTags = (want: Tag[], have: ZTag[] = []): boolean => want.every((w) => have.some((h) => h.tag === w.tag && h.value === w.value));
const owned = (tags: ZTag[] = []): boolean => tags.some((t) => t.tag === OWNER_TAG);
/**
 * Zabbix answers expressions in its own spacing and with user macros already resolved
 * (expandExpression), so a macro in ours matches whatever value it has there.
 */
export function sameExpression(have: string, want: string): boolean {
  const squeeze = (s: string): string => s.replace(/\s+/g, "");
  const pattern = squeeze(want)
    .split(/(\{\$[A-Z0-9._]+\})/)
    .map((part, i) => (i % 2 === 1 ? "[^,()]*" : part.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")))
    .join("");
  return new RegExp(`^${pattern}$`).test(squeeze(have));
}

export class ConfigSync {
  readonly counters = { syncs: 0, failures: 0, changes: 0 };
  /** template name → templateid, once the templates were synced */
  private templateIds = new Map<TemplateDef["role"], string>();
  private dependenciesDone = false;
  /** the global scripts' ids by action, once synced */
  scriptIds = new Map<string, string>();

  constructor(
    private readonly api: ZabbixApi,
    private readonly o: SyncOptions,
  ) {}

  /** Templates and hosts; `templates: false` checks only hosts (templates were synced before). */
  async sync(desired: DesiredHosts, what: { templates: boolean } = { templates: true }): Promise<SyncReport> {
    this.counters.syncs++;
    const changes: string[] = [];
    try {
      const templates = what.templates || this.templateIds.size < TEMPLATES.length;
      if (templates) await this.syncTemplates(changes);
      if (templates && this.o.scripts) this.scriptIds = await syncScripts(this.api, this.o.scripts, changes);
      if (templates && this.o.action) await syncAction(this.api, this.o.action, this.scriptIds, changes);
      const hostIds = await this.syncHosts(desired, changes);
      // the CMA host's triggers exist only once it is linked: dependencies on them come last
      if (templates || !this.dependenciesDone) await this.syncDependencies(changes);
      this.counters.changes += changes.length;
      if (changes.length) this.o.log.info({ changes: changes.length, first: changes.slice(0, 10) }, "Zabbix configuration changed");
      return { changes, hostIds };
    } catch (e) {
      this.counters.failures++;
      throw e;
    }
  }

  /** Guests whose items low-level discovery already made, per Zabbix host (a restarted CMA need not wait for them). */
  async discoveredGuests(hostIds: string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    if (hostIds.length === 0) return out;
    const items = await this.api.call<{ key_: string; hosts: { host: string }[] }[]>("item.get", {
      output: ["key_"], hostids: hostIds, selectHosts: ["host"], search: { key_: "ringwatch.vm.state[" }, startSearch: true,
    });
    for (const i of items) {
      const m = /^ringwatch\.vm\.state\[([0-9a-f-]{36})\]$/.exec(i.key_);
      const host = i.hosts?.[0]?.host;
      if (!m || !host) continue;
      const s = out.get(host) ?? new Set<string>();
      s.add(m[1]);
      out.set(host, s);
    }
    return out;
  }

  // ---------------------------------------------------------------- groups

  private async usesTemplateGroups(): Promise<boolean> {
    return versionAtLeast(await this.api.versionNumber(), 6, 2); // 6.2 split template groups from host groups
  }

  private async ensureGroup(kind: "hostgroup" | "templategroup", name: string, changes: string[]): Promise<string> {
    const found = await this.api.call<{ groupid: string }[]>(`${kind}.get`, { output: ["groupid"], filter: { name: [name] } });
    if (found.length > 0) return found[0].groupid;
    const r = await this.api.call<{ groupids: string[] }>(`${kind}.create`, { name });
    changes.push(`${kind}.create ${name}`);
    return r.groupids[0];
  }

  // ---------------------------------------------------------------- templates

  private async syncTemplates(changes: string[]): Promise<void> {
    const tg = await this.usesTemplateGroups();
    const groupId = await this.ensureGroup(tg ? "templategroup" : "hostgroup", this.o.names.templateGroup, changes);
    for (const def of TEMPLATES) {
      const id = await this.ensureTemplate(def, groupId, tg, changes);
      this.templateIds.set(def.role, id);
      const name = templateName(def.role, this.o.names);
      const valueMaps = await this.syncValueMaps(id, name, def.valueMaps, changes);
      await this.syncItems(id, name, def.items, valueMaps, changes, undefined);
      await this.syncTriggers(name, def.triggers, changes, { templateids: [id] }, "trigger");
      await this.syncRules(id, name, def.discoveryRules, valueMaps, changes);
    }
  }

  private async ensureTemplate(def: TemplateDef, groupId: string, tg: boolean, changes: string[]): Promise<string> {
    const name = templateName(def.role, this.o.names);
    const groupsField = tg ? "templategroups" : "groups";
    const [t] = await this.api.call<ZTemplate[]>("template.get", {
      output: ["templateid", "host", "name", "description"], filter: { host: [name] },
      [tg ? "selectTemplateGroups" : "selectGroups"]: ["groupid"], selectTags: "extend", selectMacros: ["macro", "value"],
    });
    const macros = def.macros.map((m) => ({ macro: m.macro, value: m.value, description: m.description }));
    if (!t) {
      const r = await this.api.call<{ templateids: string[] }>("template.create", {
        host: name, name, description: def.description, uuid: stableUuid(name, "template"), groups: [{ groupid: groupId }], tags: def.tags, macros,
      });
      changes.push(`template.create ${name}`);
      return r.templateids[0];
    }
    const groups = (tg ? t.templategroups : t.groups) ?? [];
    const update: Record<string, unknown> = {};
    if (t.description !== def.description) update.description = def.description;
    if (!groups.some((g) => g.groupid === groupId)) update[groupsField] = [...groups, { groupid: groupId }];
    if (!hasTags(def.tags, t.tags)) update.tags = tagUnion(def.tags, t.tags);
    if (Object.keys(update).length > 0) {
      await this.api.call("template.update", { templateid: t.templateid, ...update });
      changes.push(`template.update ${name} (${Object.keys(update).join(", ")})`);
    }
    // a macro we define is created when missing; a value the user retuned is theirs
    for (const m of macros.filter((m) => !t.macros.some((x) => x.macro === m.macro))) {
      await this.api.call("usermacro.create", { hostid: t.templateid, ...m });
      changes.push(`usermacro.create ${name} ${m.macro}`);
    }
    return t.templateid;
  }

  private async syncValueMaps(templateId: string, tpl: string, defs: ValueMapDef[], changes: string[]): Promise<Map<string, string>> {
    const have = await this.api.call<ZValueMap[]>("valuemap.get", { output: ["valuemapid", "name"], hostids: [templateId], selectMappings: ["value", "newvalue"] });
    const ids = new Map(have.map((v) => [v.name, v.valuemapid]));
    for (const d of defs) {
      const mappings = d.mappings.map((m) => ({ value: m.value, newvalue: m.newValue }));
      const cur = have.find((v) => v.name === d.name);
      if (!cur) {
        const r = await this.api.call<{ valuemapids: string[] }>("valuemap.create", { hostid: templateId, name: d.name, mappings, uuid: stableUuid(tpl, "valuemap", d.name) });
        ids.set(d.name, r.valuemapids[0]);
        changes.push(`valuemap.create ${tpl}/${d.name}`);
      } else if (JSON.stringify(cur.mappings.map((m) => ({ value: m.value, newvalue: m.newvalue }))) !== JSON.stringify(mappings)) {
        await this.api.call("valuemap.update", { valuemapid: cur.valuemapid, mappings });
        changes.push(`valuemap.update ${tpl}/${d.name}`);
      }
    }
    return ids;
  }

  /** Items of a template (ruleId undefined) or item prototypes of a discovery rule. */
  private async syncItems(templateId: string, tpl: string, defs: ItemDef[], valueMaps: Map<string, string>, changes: string[], ruleId: string | undefined): Promise<void> {
    const api = ruleId ? "itemprototype" : "item";
    const have = await this.api.call<ZItem[]>(`${api}.get`, {
      output: ITEM_FIELDS, selectTags: "extend", ...(ruleId ? { discoveryids: [ruleId] } : { templateids: [templateId] }),
    });
    const byKey = new Map(have.map((i) => [i.key_, i]));
    const creates: Record<string, unknown>[] = [];
    for (const d of defs) {
      const want: Record<string, string> = {
        name: d.name, type: TRAPPER, value_type: VALUE_TYPE[d.valueType], units: d.units, description: d.description,
        history: d.history, trends: d.trends, valuemapid: d.valueMap ? valueMaps.get(d.valueMap) ?? "0" : "0",
      };
      const cur = byKey.get(d.key);
      if (!cur) {
        creates.push({ ...want, key_: d.key, hostid: templateId, tags: d.tags, uuid: stableUuid(tpl, "item", d.key), ...(ruleId ? { ruleid: ruleId } : {}) });
        continue;
      }
      const diff: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(want)) if (String((cur as unknown as Record<string, unknown>)[k] ?? "") !== v) diff[k] = v;
      if (!hasTags(d.tags, cur.tags)) diff.tags = tagUnion(d.tags, cur.tags);
      if (Object.keys(diff).length > 0) {
        await this.api.call(`${api}.update`, { itemid: cur.itemid, ...diff });
        changes.push(`${api}.update ${tpl}/${d.key} (${Object.keys(diff).join(", ")})`);
      }
    }
    if (creates.length > 0) {
      await this.api.call(`${api}.create`, creates);
      for (const c of creates) changes.push(`${api}.create ${tpl}/${String(c.key_)}`);
    }
    const wanted = new Set(defs.map((d) => d.key));
    const stale = have.filter((i) => !wanted.has(i.key_) && i.key_.startsWith(KEY_PREFIX) && owned(i.tags));
    if (stale.length > 0) {
      await this.api.call(`${api}.delete`, stale.map((i) => i.itemid));
      for (const i of stale) changes.push(`${api}.delete ${tpl}/${i.key_}`);
    }
  }

  private async syncTriggers(tpl: string, defs: TriggerDef[], changes: string[], scope: Record<string, unknown>, api: "trigger" | "triggerprototype"): Promise<void> {
    const have = await this.api.call<ZTrigger[]>(`${api}.get`, { output: TRIGGER_FIELDS, selectTags: "extend", expandExpression: true, ...scope });
    const ours = have.filter((t) => owned(t.tags));
    const creates: Record<string, unknown>[] = [];
    for (const d of defs) {
      const want = { expression: triggerExpression(d, tpl), priority: PRIORITY[d.priority], comments: d.description, opdata: d.opdata };
      const cur = ours.find((t) => t.description === d.name);
      if (!cur) {
        creates.push({ description: d.name, ...want, tags: d.tags, uuid: stableUuid(tpl, "trigger", d.name) });
        continue;
      }
      const diff: Record<string, unknown> = {};
      if (!sameExpression(cur.expression, want.expression)) diff.expression = want.expression;
      for (const k of ["priority", "comments", "opdata"] as const) if (String(cur[k] ?? "") !== want[k]) diff[k] = want[k];
      if (!hasTags(d.tags, cur.tags)) diff.tags = tagUnion(d.tags, cur.tags);
      if (Object.keys(diff).length > 0) {
        await this.api.call(`${api}.update`, { triggerid: cur.triggerid, ...diff });
        changes.push(`${api}.update ${tpl}/${d.name} (${Object.keys(diff).join(", ")})`);
      }
    }
    if (creates.length > 0) {
      await this.api.call(`${api}.create`, creates);
      for (const c of creates) changes.push(`${api}.create ${tpl}/${String(c.description)}`);
    }
    const wanted = new Set(defs.map((d) => d.name));
    const stale = ours.filter((t) => !wanted.has(t.description));
    if (stale.length > 0) {
      await this.api.call(`${api}.delete`, stale.map((t) => t.triggerid));
      for (const t of stale) changes.push(`${api}.delete ${tpl}/${t.description}`);
    }
  }

  private async syncRules(templateId: string, tpl: string, defs: DiscoveryRuleDef[], valueMaps: Map<string, string>, changes: string[]): Promise<void> {
    const have = await this.api.call<ZRule[]>("discoveryrule.get", { output: ["itemid", "key_", "name", "type", "lifetime", "description"], templateids: [templateId] });
    for (const d of defs) {
      const want = { name: d.name, type: TRAPPER, lifetime: d.lifetime, description: d.description };
      const cur = have.find((r) => r.key_ === d.key);
      let ruleId: string;
      if (!cur) {
        const r = await this.api.call<{ itemids: string[] }>("discoveryrule.create", { ...want, key_: d.key, hostid: templateId, uuid: stableUuid(tpl, "discovery", d.key) });
        ruleId = r.itemids[0];
        changes.push(`discoveryrule.create ${tpl}/${d.key}`);
      } else {
        ruleId = cur.itemid;
        const diff = Object.fromEntries(Object.entries(want).filter(([k, v]) => String((cur as unknown as Record<string, unknown>)[k] ?? "") !== v));
        if (Object.keys(diff).length > 0) {
          await this.api.call("discoveryrule.update", { itemid: ruleId, ...diff });
          changes.push(`discoveryrule.update ${tpl}/${d.key} (${Object.keys(diff).join(", ")})`);
        }
      }
      await this.syncItems(templateId, tpl, d.itemPrototypes, valueMaps, changes, ruleId);
      await this.syncTriggers(tpl, d.triggerPrototypes, changes, { discoveryids: [ruleId] }, "triggerprototype");
    }
    const wanted = new Set(defs.map((d) => d.key));
    const stale = have.filter((r) => !wanted.has(r.key_) && r.key_.startsWith(KEY_PREFIX));
    if (stale.length > 0) {
      await this.api.call("discoveryrule.delete", stale.map((r) => r.itemid));
      for (const r of stale) changes.push(`discoveryrule.delete ${tpl}/${r.key_}`);
    }
  }

  // ---------------------------------------------------------------- dependencies on the CMA's host

  /**
   * Trigger dependencies: on a trigger of the same template (discovery failing on libvirt
   * unreachable), or on a trigger of the CMA's own host (the hypervisors' host-down on "ringwatch
   * CMA is not reporting"): Zabbix 6.0 takes a template trigger's dependency on a host trigger
   * (tried on 6.0.14) and hands it to every host linked to the template. Dependencies a user added
   * are kept.
   */
  private async syncDependencies(changes: string[]): Promise<void> {
    const cmaHost = zabbixHostName(this.o.names.cmaHost);
    const onHost = await this.api.call<{ triggerid: string; description: string }[]>("trigger.get", { output: ["triggerid", "description"], filter: { host: cmaHost } });
    for (const def of TEMPLATES) {
      const wants = def.triggers.filter((t) => t.dependsOnCma?.length || t.dependsOn?.length);
      if (!wants.length) continue;
      const tpl = templateName(def.role, this.o.names);
      const have = await this.api.call<{ triggerid: string; description: string; dependencies: { triggerid: string }[]; tags: ZTag[] }[]>("trigger.get", {
        output: ["triggerid", "description"], templateids: [this.templateIds.get(def.role)!], selectDependencies: ["triggerid"], selectTags: "extend",
      });
      const id = (among: { triggerid: string; description: string }[], n: string, where: string): string => {
        const p = among.find((x) => x.description === n);
        if (!p) throw new Error(`trigger "${n}" not found on ${where}`);
        return p.triggerid;
      };
      for (const t of wants) {
        const cur = have.find((x) => x.description === t.name && owned(x.tags));
        if (!cur) continue;
        const want = [
          ...(t.dependsOn ?? []).map((n) => id(have.filter((x) => owned(x.tags)), n, `template ${tpl}`)),
          ...(t.dependsOnCma ?? []).map((n) => id(onHost, n, `the CMA's host ${cmaHost}`)),
        ];
        const missing = want.filter((i) => !cur.dependencies.some((d) => d.triggerid === i));
        if (!missing.length) continue;
        await this.api.call("trigger.update", { triggerid: cur.triggerid, dependencies: [...cur.dependencies.map((d) => ({ triggerid: d.triggerid })), ...missing.map((triggerid) => ({ triggerid }))] });
        changes.push(`trigger.update ${tpl}/${t.name} (dependencies)`);
      }
    }
    this.dependenciesDone = true;
  }

  // ---------------------------------------------------------------- hosts

  private async syncHosts(desired: DesiredHosts, changes: string[]): Promise<Map<string, string>> {
    const hostIds = new Map<string, string>();
    const hv = this.templateIds.get("hypervisor")!;
    const guest = this.templateIds.get("guest")!;
    const hvGroup = await this.ensureGroup("hostgroup", this.o.hostGroup, changes);
    await this.syncHostSet(desired.hypervisors, hvGroup, this.o.hostPerDomain ? [hv] : [hv, guest], "hypervisor", hostIds, changes);
    await this.syncHostSet(new Map([[zabbixHostName(this.o.names.cmaHost), ""]]), hvGroup, [this.templateIds.get("cma")!], "cma", hostIds, changes);
    if (this.o.hostPerDomain && desired.guests.size > 0) {
      const gGroup = await this.ensureGroup("hostgroup", `${this.o.hostGroup}/guests`, changes);
      await this.syncHostSet(desired.guests, gGroup, [guest], "guest", hostIds, changes);
    }
    if (desired.retired?.size) await this.retireHosts(desired.retired, changes);
    return hostIds;
  }

  /** Disable (or, with purge, delete) the Zabbix hosts of removed hypervisors; only hosts carrying our tag. */
  private async retireHosts(retired: Map<string, boolean>, changes: string[]): Promise<void> {
    const names = [...retired.keys()];
    for (let i = 0; i < names.length; i += HOST_CHUNK) {
      const have = await this.api.call<ZHost[]>("host.get", { output: ["hostid", "host", "status"], filter: { host: names.slice(i, i + HOST_CHUNK) }, selectTags: "extend" });
      const purge = have.filter((h) => owned(h.tags) && retired.get(h.host) === true);
      for (const h of have.filter((x) => owned(x.tags) && retired.get(x.host) === false && (x.status !== "1" || !hasTags([REMOVED_TAG], x.tags)))) {
        await this.api.call("host.update", { hostid: h.hostid, status: "1", tags: tagUnion([REMOVED_TAG], h.tags) });
        changes.push(`host.update ${h.host} (disabled: removed)`);
      }
      if (purge.length > 0) {
        await this.api.call("host.delete", purge.map((h) => h.hostid));
        for (const h of purge) changes.push(`host.delete ${h.host} (removed, purged)`);
      }
    }
  }

  private async syncHostSet(want: Map<string, string>, groupId: string, templateIds: string[], role: string, hostIds: Map<string, string>, changes: string[]): Promise<void> {
    const tags: Tag[] = [{ tag: OWNER_TAG, value: role }];
    const names = [...want.keys()];
    for (let i = 0; i < names.length; i += HOST_CHUNK) {
      const chunk = names.slice(i, i + HOST_CHUNK);
      const have = await this.api.call<ZHost[]>("host.get", {
        output: ["hostid", "host", "name", "status"], filter: { host: chunk }, selectGroups: ["groupid"], selectParentTemplates: ["templateid"], selectTags: "extend",
      });
      const byName = new Map(have.map((h) => [h.host, h]));
      const creates: Record<string, unknown>[] = [];
      for (const host of chunk) {
        const cur = byName.get(host);
        if (!cur) {
          creates.push({ host, name: want.get(host) || host, groups: [{ groupid: groupId }], templates: templateIds.map((templateid) => ({ templateid })), tags });
          continue;
        }
        hostIds.set(host, cur.hostid);
        const missingTemplates = templateIds.filter((t) => !cur.parentTemplates.some((p) => p.templateid === t));
        const missingGroup = !cur.groups.some((g) => g.groupid === groupId);
        if (missingTemplates.length > 0 || missingGroup) {
          // massadd adds links and groups without touching the host's own
          await this.api.call("host.massadd", {
            hosts: [{ hostid: cur.hostid }],
            ...(missingGroup ? { groups: [{ groupid: groupId }] } : {}),
            ...(missingTemplates.length ? { templates: missingTemplates.map((templateid) => ({ templateid })) } : {}),
          });
          changes.push(`host.massadd ${host}${missingGroup ? " group" : ""}${missingTemplates.length ? ` ${missingTemplates.length} template(s)` : ""}`);
        }
        if (cur.status === "1" && hasTags([REMOVED_TAG], cur.tags)) {
          // removed, and admitted again as a new host: we disabled it, we enable it
          const kept = cur.tags.filter((t) => tagKey(t) !== tagKey(REMOVED_TAG));
          await this.api.call("host.update", { hostid: cur.hostid, status: "0", tags: tagUnion(tags, kept) });
          changes.push(`host.update ${host} (enabled: joined again)`);
        } else if (!hasTags(tags, cur.tags)) {
          await this.api.call("host.update", { hostid: cur.hostid, tags: tagUnion(tags, cur.tags) });
          changes.push(`host.update ${host} (tags)`);
        }
      }
      if (creates.length > 0) {
        const r = await this.api.call<{ hostids: string[] }>("host.create", creates);
        creates.forEach((c, k) => {
          hostIds.set(String(c.host), r.hostids[k]);
          changes.push(`host.create ${String(c.host)}`);
        });
      }
    }
  }
}
