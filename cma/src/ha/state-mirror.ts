/**
 * The state a new leader needs, kept in etcd: the leader copies its state files there, and a CMA
 * that wins an election copies them back into its data directory before it starts.
 *
 * Which files (mirroredFiles): the membership snapshot (hosts, ring order, maintenance), host-key
 * pins and enrollments, users and API tokens, the ladders' state, the stats stream positions (those
 * Zabbix confirmed, when Zabbix is configured: SOURCE_OF), the
 * Zabbix scripts' service token, and the audit log's last two days. Not mirrored: the Zabbix spool
 * (values are asked for again from the stream positions), the metric history and the graph (each
 * CMA keeps its own; a new leader's graph is rebuilt from re-announcements), console sessions.
 *
 * Budget: every `everyMs` the leader looks at the files (stat; content hashed only when the stat
 * changed) and writes all that changed in ONE transaction, so etcd sees at most 1000/everyMs writes
 * a second whatever the number of hosts; the stats positions, which change all the time, at most
 * every THROTTLED_MS. Values are gzipped. etcd refuses requests over 1.5 MiB by default, and the
 * host-key pins of 10,000 hosts are 1.9 MB gzipped: a file over CHUNK_BYTES compressed is stored in
 * chunks (CHUNKS_DIR), each in a fenced transaction of its own, named by its content's hash, and its
 * key then holds a small manifest listing them, written last. A reader sees either the previous
 * manifest with its chunks or the new one with all of its chunks; chunks no manifest lists any more
 * are deleted after the manifest moved on (and a new leader sweeps those a dead one left behind).
 * A file over MAX_VALUE_BYTES compressed is not mirrored at all (counted, logged, alerted).
 * Every write is fenced: the transaction succeeds only while the leader key's create revision is
 * this leader's epoch, so a deposed leader can never overwrite its successor's state.
 *
 * Why files rather than a store per kind: each store already writes its file atomically on change,
 * and mirroring the files keeps every store exactly as it runs without etcd.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Etcd3 } from "etcd3";
import type { Logger } from "@ringwatch/shared";

const FIXED_FILES = ["membership.json", "host-keys.json", "host-enrollments.json", "access.json", "ladders.json", "stats-streams.json", "zabbix-scripts.token"];
/**
 * A key whose content comes from another file when that exists: the stats stream positions a new
 * leader starts from are those Zabbix confirmed (intake/stats-delivered.ts), not those the old
 * leader accepted, since its spool is lost with its machine. Restored under the key's own name.
 */
const SOURCE_OF: Record<string, string> = { "stats-streams.json": "stats-delivered.json" };
/**
 * Files that change all the time are mirrored at most this often. The stats positions change with
 * every batch Zabbix confirms: at 10,000 hosts the file is ~500 KB (~150 KB gzipped), and writing
 * it every second would be most of etcd's traffic (and history to compact). An older copy costs
 * only resends after a failover (Zabbix stores a resent value once), never a loss.
 */
export const THROTTLED_MS: Record<string, number> = { "stats-streams.json": 10_000 };
/** the audit log's recent tail: today's and yesterday's files (one file per UTC day) */
const AUDIT_DAYS = 2;
/** a compressed file larger than this is stored in chunks of this size (etcd's default request limit is 1.5 MiB) */
export const CHUNK_BYTES = 768 * 1024;
/** the largest compressed file mirrored at all (~300,000 hosts' pins) */
export const MAX_VALUE_BYTES = 64 << 20;
/** chunks live under <prefix>CHUNKS_DIR<sha256 hex>; a manifest is JSON, a whole file is gzip (0x1f 0x8b) */
const CHUNKS_DIR = "chunks/";
/** a transaction carries at most this much: bigger syncs are split (each part fenced alike) */
const MAX_TXN_BYTES = 1 << 20;

/** The files mirrored now (relative to the data directory). */
export function mirroredFiles(now = Date.now()): string[] {
  const days = Array.from({ length: AUDIT_DAYS }, (_, i) => new Date(now - i * 86_400_000).toISOString().slice(0, 10));
  return [...FIXED_FILES, ...days.map((d) => `audit/audit-${d}.jsonl`)];
}

export interface StateMirrorCounters {
  syncs: number;
  /** etcd transactions written (the budget) */
  writes: number;
  filesWritten: number;
  bytesWritten: number;
  /** transactions refused because this CMA no longer leads */
  fenced: number;
  tooLarge: number;
  errors: number;
  /** values in etcd that did not decompress at a restore (skipped: that store starts empty, as from a damaged file) */
  restoreErrors: number;
}

export class StateMirror {
  readonly counters: StateMirrorCounters = { syncs: 0, writes: 0, filesWritten: 0, bytesWritten: 0, fenced: 0, tooLarge: 0, errors: 0, restoreErrors: 0 };
  /** per file: the stat seen and the hash last written */
  private readonly seen = new Map<string, { stat: string; hash: string }>();
  /** when each throttled file was last written (THROTTLED_MS) */
  private readonly writtenAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<boolean> | undefined;
  /** files too large to mirror now: a standing problem until they shrink */
  readonly oversize = new Set<string>();
  /** the chunks each chunked file's manifest in etcd lists (deleted once it lists others) */
  private readonly chunksOf = new Map<string, string[]>();
  /** chunks in etcd that no manifest lists (a leader died between its chunks and its manifest): deleted by the next pass */
  private orphans: string[] = [];
  lastError = "";

  constructor(
    private readonly client: Etcd3,
    /** <etcdPrefix>/<cluster>/state/ */
    private readonly prefix: string,
    private readonly dataDir: string,
    private readonly log: Logger,
    /** the sizes (tests make them small) */
    private readonly chunkBytes = CHUNK_BYTES,
    private readonly maxValueBytes = MAX_VALUE_BYTES,
  ) {}

  /**
   * Before starting as leader: etcd's copy replaces the local files. With nothing in etcd (the
   * first leader, or a single CMA moving to high availability) the local files stay and are the
   * first to be mirrored. Throws when etcd cannot be read: leading on stale state is not an option.
   */
  async restore(): Promise<{ files: number; bytes: number }> {
    // key by key: one response with every value would pass gRPC's default 4 MiB message limit
    // past ~17,000 hosts (the state is ~2.4 MB gzipped at 10,000); each value is at most a chunk.
    // Nobody writes meanwhile: the leader before is fenced out by this one's epoch.
    const all: Record<string, Buffer> = {};
    for (const k of await this.client.getAll().prefix(this.prefix).keys()) {
      const v = await this.client.get(k).buffer();
      if (v) all[k] = v;
    }
    const names = Object.keys(all).filter((k) => !k.startsWith(this.prefix + CHUNKS_DIR));
    if (names.length === 0) return { files: 0, bytes: 0 };
    let bytes = 0;
    const wanted = new Set(mirroredFiles());
    const listed = new Set<string>();
    for (const name of names) {
      const rel = name.slice(this.prefix.length);
      if (!isSafeRelative(rel)) {
        this.log.warn({ key: name }, "unexpected key under the state prefix: ignored");
        continue;
      }
      let text: Buffer;
      try {
        const chunks = manifestChunks(all[name]);
        if (chunks) {
          for (const c of chunks) listed.add(c);
          this.chunksOf.set(rel, chunks);
        }
        text = gunzipSync(chunks ? joinChunks(chunks, (c) => all[this.prefix + CHUNKS_DIR + c]) : all[name]);
      } catch (e) {
        this.counters.restoreErrors++;
        this.log.error({ key: name, err: (e as Error).message }, "state in etcd does not decompress: not restored (the local copy is removed; the store starts as from a damaged file)");
        rmSync(join(this.dataDir, rel), { force: true });
        continue;
      }
      writeAtomically(join(this.dataDir, rel), text);
      bytes += text.length;
      this.seen.delete(rel); // written by us, not by the stores: looked at afresh
    }
    // a mirrored file etcd does not hold was removed by the last leader (no ladder policy any more, say)
    for (const rel of wanted) if (!(this.prefix + rel in all) && !rel.startsWith("audit/")) rmSync(join(this.dataDir, rel), { force: true });
    this.orphans = Object.keys(all).filter((k) => k.startsWith(this.prefix + CHUNKS_DIR) && !listed.has(k.slice(this.prefix.length + CHUNKS_DIR.length)));
    this.log.info({ files: names.length, bytes }, "state restored from etcd");
    return { files: names.length, bytes };
  }

  /** Mirror changes every everyMs while leading in `epoch`, fenced on the leader key. */
  start(fence: { leaderKey: string; epoch: number }, everyMs: number): void {
    this.stop();
    this.timer = setInterval(() => void this.sync(fence), everyMs);
    void this.sync(fence);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One pass (the last one after the CMA stopped: its final writes go too); concurrent calls share
   * it. True when everything found changed is in etcd.
   */
  sync(fence: { leaderKey: string; epoch: number }): Promise<boolean> {
    this.syncing ??= this.syncOnce(fence).finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  /**
   * A pass that starts after this call: what was written to the files before it is in etcd when it
   * resolves true (the ladders wait for it before acting, so a new leader sees each step in flight).
   */
  async flush(fence: { leaderKey: string; epoch: number }): Promise<boolean> {
    await this.syncing?.catch(() => undefined);
    return this.sync(fence);
  }

  private async syncOnce(fence: { leaderKey: string; epoch: number }): Promise<boolean> {
    this.counters.syncs++;
    let complete = true;
    const changes: { rel: string; stat: string; hash: string; value: Buffer | undefined }[] = [];
    const now = Date.now();
    for (const rel of mirroredFiles(now)) {
      if (THROTTLED_MS[rel] && now - (this.writtenAt.get(rel) ?? 0) < THROTTLED_MS[rel]) continue; // looked at again in a later pass
      const source = SOURCE_OF[rel] ? join(this.dataDir, SOURCE_OF[rel]) : undefined;
      const path = source && existsSync(source) ? source : join(this.dataDir, rel);
      let stat: string;
      try {
        const s = statSync(path);
        stat = `${path}:${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        stat = "absent";
      }
      const before = this.seen.get(rel);
      if (before?.stat === stat) continue;
      if (stat === "absent") {
        if (before && before.hash !== "absent") changes.push({ rel, stat, hash: "absent", value: undefined });
        else this.seen.set(rel, { stat, hash: "absent" });
        continue;
      }
      let text: Buffer;
      try {
        text = readFileSync(path);
      } catch {
        continue; // replaced between stat and read: the next pass sees it
      }
      const hash = createHash("sha256").update(text).digest("base64");
      if (before?.hash === hash) {
        this.seen.set(rel, { stat, hash });
        continue;
      }
      const value = gzipSync(text);
      if (value.length > this.maxValueBytes) {
        this.counters.tooLarge++;
        this.oversize.add(rel);
        this.noteError(`${rel} is ${value.length} bytes compressed, over ${this.maxValueBytes}: not mirrored (a new leader would start from an older copy)`);
        this.seen.set(rel, { stat, hash: before?.hash ?? "" });
        complete = false;
        continue;
      }
      this.oversize.delete(rel);
      changes.push({ rel, stat, hash, value });
    }
    // chunked files: their chunks first, each in a fenced transaction of its own; their manifests go with the rest
    const manifests = new Map<string, string[]>();
    for (const c of changes) {
      if (!c.value || c.value.length <= this.chunkBytes) continue;
      const chunks: string[] = [];
      for (let at = 0; at < c.value.length; at += this.chunkBytes) {
        const piece = c.value.subarray(at, at + this.chunkBytes);
        const id = createHash("sha256").update(piece).digest("hex");
        chunks.push(id);
        if ((this.chunksOf.get(c.rel) ?? []).includes(id)) continue; // already there
        if (!(await this.fencedWrite(fence, [this.client.put(this.prefix + CHUNKS_DIR + id).value(piece)], piece.length))) return false;
      }
      manifests.set(c.rel, chunks);
      c.value = Buffer.from(JSON.stringify({ chunks, bytes: c.value.length }));
    }
    for (const part of splitBySize(changes)) {
      const ops = part.map((c) => (c.value ? this.client.put(this.prefix + c.rel).value(c.value) : this.client.delete().key(this.prefix + c.rel)));
      if (!(await this.fencedWrite(fence, ops, part.reduce((n, c) => n + (c.value?.length ?? 0), 0)))) return false;
      for (const c of part) {
        this.seen.set(c.rel, { stat: c.stat, hash: c.hash });
        if (THROTTLED_MS[c.rel]) this.writtenAt.set(c.rel, now);
        this.counters.filesWritten++;
      }
      if (this.oversize.size === 0) this.lastError = "";
    }
    // chunks no manifest lists any more: now that the manifests moved on, nobody reads them
    const garbage = this.orphans.map((k) => k.slice(this.prefix.length + CHUNKS_DIR.length));
    for (const c of changes) {
      const next = manifests.get(c.rel) ?? [];
      garbage.push(...(this.chunksOf.get(c.rel) ?? []).filter((id) => !next.includes(id)));
      if (next.length > 0) this.chunksOf.set(c.rel, next);
      else this.chunksOf.delete(c.rel);
    }
    for (let i = 0; i < garbage.length; i += 100) {
      const ids = garbage.slice(i, i + 100);
      if (!(await this.fencedWrite(fence, ids.map((id) => this.client.delete().key(this.prefix + CHUNKS_DIR + id)), 0))) return false;
    }
    this.orphans = [];
    return complete;
  }

  /** One fenced transaction; false (noted) when deposed or etcd failed. */
  private async fencedWrite(fence: { leaderKey: string; epoch: number }, ops: Parameters<ReturnType<Etcd3["if"]>["then"]>, bytes: number): Promise<boolean> {
    try {
      const res = await this.client.if(fence.leaderKey, "Create", "==", fence.epoch).then(...ops).commit();
      if (!res.succeeded) {
        this.counters.fenced++;
        this.noteError(`not written: epoch ${fence.epoch} no longer holds the leader key`);
        return false;
      }
      this.counters.writes++;
      this.counters.bytesWritten += bytes;
      return true;
    } catch (e) {
      this.counters.errors++;
      this.noteError(`etcd write failed: ${(e as Error).message} (tried again next pass)`);
      return false;
    }
  }

  private noteError(msg: string): void {
    if (msg !== this.lastError) this.log.warn({ err: msg }, "state mirror");
    this.lastError = msg;
  }
}

/** the chunk ids a manifest lists; undefined when the value is a whole file (gzip) */
function manifestChunks(value: Buffer): string[] | undefined {
  if (value[0] !== 0x7b) return undefined; // "{": gzip starts with 0x1f
  const m = JSON.parse(value.toString()) as { chunks?: unknown };
  if (!Array.isArray(m.chunks) || m.chunks.some((c) => typeof c !== "string" || !/^[0-9a-f]{64}$/.test(c))) throw new Error("malformed chunk manifest");
  return m.chunks as string[];
}

/** a chunked file's compressed bytes; throws when a chunk is missing or is not what its name says */
function joinChunks(chunks: string[], get: (id: string) => Buffer | undefined): Buffer {
  return Buffer.concat(chunks.map((id) => {
    const piece = get(id);
    if (!piece || createHash("sha256").update(piece).digest("hex") !== id) throw new Error(`chunk ${id.slice(0, 12)} missing or damaged`);
    return piece;
  }));
}

function splitBySize<T extends { value: Buffer | undefined }>(changes: T[]): T[][] {
  const parts: T[][] = [];
  let part: T[] = [], size = 0;
  for (const c of changes) {
    const n = (c.value?.length ?? 0) + 200;
    if (part.length > 0 && size + n > MAX_TXN_BYTES) {
      parts.push(part);
      part = [];
      size = 0;
    }
    part.push(c);
    size += n;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** a key's file name: one of ours, never a way out of the data directory */
function isSafeRelative(rel: string): boolean {
  return /^(audit\/)?[A-Za-z0-9][A-Za-z0-9._-]*$/.test(rel) && !rel.includes("..");
}

function writeAtomically(path: string, data: Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.restore-tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}
