/**
 * Where each host's stats stream stands (stream id, last batch accepted), on disk in
 * dataDir/stats-streams.json, so a restarted CMA still refuses the batches it accepted before it
 * stopped (a nanoprobe resends a batch whose acknowledgement died with the old CMA: without this it
 * would reach Zabbix twice). Written atomically (temp file + rename) before the batch is
 * acknowledged. A file that does not validate is moved aside as .corrupt-<time> and reported; the
 * CMA then starts without positions (duplicates possible, nothing lost).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StreamPosition } from "@ringwatch/shared";

export function validatePositions(doc: unknown): Map<string, StreamPosition> {
  const fail = (why: string): never => {
    throw new Error(`stats stream positions: ${why}`);
  };
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) fail("not an object");
  const d = doc as Record<string, unknown>;
  if (d.version !== 1) fail(`unknown version ${JSON.stringify(d.version)}`);
  if (!d.hosts || typeof d.hosts !== "object" || Array.isArray(d.hosts)) fail("hosts is not an object");
  const out = new Map<string, StreamPosition>();
  for (const [host, v] of Object.entries(d.hosts as Record<string, unknown>)) {
    const p = v as Record<string, unknown>;
    const stream = p?.stream;
    const lastSeq = p?.lastSeq;
    if (!(typeof stream === "number" && Number.isInteger(stream) && stream >= 1 && stream <= 0xffffffff)) fail(`${host}: bad stream`);
    if (!(typeof lastSeq === "number" && Number.isSafeInteger(lastSeq) && lastSeq >= 1)) fail(`${host}: bad lastSeq`);
    out.set(host, { stream: stream as number, lastSeq: lastSeq as number });
  }
  return out;
}

export class StreamPositionStore {
  readonly path: string;
  private readonly positions = new Map<string, StreamPosition>();

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "stats-streams.json");
  }

  /** The saved positions; a corrupt file is moved aside (error returned). */
  load(): { positions: ReadonlyMap<string, StreamPosition>; error?: string } {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return { positions: this.positions };
    }
    try {
      for (const [h, p] of validatePositions(JSON.parse(text))) this.positions.set(h, p);
      return { positions: this.positions };
    } catch (e) {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      renameSync(this.path, aside);
      return { positions: this.positions, error: `${(e as Error).message} (moved to ${aside})` };
    }
  }

  /** Record a host's position; on disk when this returns. */
  set(host: string, p: StreamPosition): void {
    this.positions.set(host, p);
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, hosts: Object.fromEntries(this.positions) }));
    renameSync(tmp, this.path);
  }
}
