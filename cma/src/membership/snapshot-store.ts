/**
 * The membership snapshot on disk (dataDir/membership.json), so a restarted CMA knows whom to ask
 * to re-announce. Written atomically (temp file + rename). A file that does not validate is moved
 * aside as .corrupt-<time> and reported: it never stops the CMA and is never half-trusted.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HostState, MembershipSnapshot } from "./membership.js";

const STATES: ReadonlySet<string> = new Set(["alive", "suspect", "dead", "left", "unreachable"]);

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
    return {
      name: str("name"), machineId: str("machineId"), address: str("address"), port, segment: str("segment"), state: state as HostState,
      since: num("since"), joinedAt: num("joinedAt"), version: str("version"), assignedKey: str("assignedKey"),
    };
  });
  return { version: 1, savedAt: typeof d.savedAt === "number" ? d.savedAt : 0, hosts };
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
