/**
 * The membership snapshot on disk (dataDir/membership.json), so a restarted CMA knows whom to ask
 * to re-announce. Written atomically (temp file + rename). A file that does not validate is moved
 * aside as .corrupt-<time> and reported: it never stops the CMA and is never half-trusted.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_STATES } from "./membership.js";
import type { HostState, MaintenanceWindow, MembershipSnapshot, RemovedHost } from "./membership.js";

/** Tombstones are not hosts: "removed" is no state a snapshot's host can be in. */
const STATES: ReadonlySet<string> = new Set(HOST_STATES.filter((s) => s !== "removed"));

export function validateSnapshot(doc: unknown): MembershipSnapshot {
  const fail = (why: string): never => {
    throw new Error(`membership snapshot: ${why}`);
  };
  if (!doc || typeof doc !== "object") fail("not an object");
  const d = doc as Record<string, unknown>;
  if (d.version !== 1) fail(`unknown version ${JSON.stringify(d.version)}`);
  if (!Array.isArray(d.hosts)) fail("hosts is not a list");
  const hosts = (d.hosts as unknown[]).map((x, i) => {
    const h = x as Record<string, unknown>;
    const str = (k: string): string => (typeof h?.[k] === "string" ? (h[k] as string) : fail(`hosts[${i}].${k} is not a string`));
    const num = (k: string): number => (typeof h?.[k] === "number" && Number.isFinite(h[k]) ? (h[k] as number) : fail(`hosts[${i}].${k} is not a number`));
    const state = str("state");
    if (!STATES.has(state)) fail(`hosts[${i}].state ${state}`);
    const port = num("port");
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`hosts[${i}].port ${port}`);
    let maintenance: MaintenanceWindow | undefined;
    if (state === "maintenance") {
      const m = h.maintenance as Record<string, unknown> | undefined;
      if (!m || typeof m !== "object") fail(`hosts[${i}] is in maintenance without its window`);
      const mnum = (k: string): number => (typeof m![k] === "number" && Number.isFinite(m![k]) ? (m![k] as number) : fail(`hosts[${i}].maintenance.${k} is not a number`));
      if (typeof m!.reason !== "string" || typeof m!.down !== "boolean") fail(`hosts[${i}].maintenance: reason or down missing`);
      maintenance = { reason: m!.reason as string, until: mnum("until"), startedAt: mnum("startedAt"), down: m!.down as boolean };
    }
    return {
      name: str("name"), machineId: str("machineId"), address: str("address"), port, segment: str("segment"), state: state as HostState,
      since: num("since"), joinedAt: num("joinedAt"), version: str("version"), assignedKey: str("assignedKey"), ...(maintenance ? { maintenance } : {}),
      ...(h.revoked === true ? { revoked: true } : {}),
    };
  });
  if (d.removed !== undefined && !Array.isArray(d.removed)) fail("removed is not a list");
  const removed: RemovedHost[] = ((d.removed as unknown[] | undefined) ?? []).map((x, i) => {
    const t = x as Record<string, unknown>;
    const str = (k: string): string => (typeof t?.[k] === "string" ? (t[k] as string) : fail(`removed[${i}].${k} is not a string`));
    if (typeof t.removedAt !== "number" || typeof t.purge !== "boolean") fail(`removed[${i}]: removedAt or purge missing`);
    return { name: str("name"), segment: str("segment"), address: str("address"), removedAt: t.removedAt as number, purge: t.purge as boolean };
  });
  return { version: 1, savedAt: typeof d.savedAt === "number" ? d.savedAt : 0, hosts, removed };
}

export class SnapshotStore {
  readonly path: string;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "membership.json");
  }

  /** The saved snapshot, undefined if there is none; a corrupt one is moved aside (error returned). */
  load(): { snapshot?: MembershipSnapshot; error?: string } {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return {};
    }
    try {
      return { snapshot: validateSnapshot(JSON.parse(text)) };
    } catch (e) {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      renameSync(this.path, aside);
      return { error: `${(e as Error).message} (moved to ${aside})` };
    }
  }

  save(s: MembershipSnapshot): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(s));
    renameSync(tmp, this.path);
  }
}
