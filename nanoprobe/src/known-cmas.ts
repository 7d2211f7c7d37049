/**
 * The CMAs this host knows: the configured ones (the `cma` option, or the multicast group) and the
 * ones the leader listed in its last signed assignment (CMAs in high availability register their
 * addresses in etcd; the leader puts the list in every SetNeighbours). Announcements go to all of
 * them, so a host whose CMA died, or that restarted while it was down, finds the one leading now
 * without anyone editing its configuration.
 *
 * The learned list is kept in a small file (cmaAddressesFile) so it survives a restart: the case
 * it exists for is a host restarted during a failover, whose configured CMA is the one that died.
 * It comes only from commands signed by the CMA's key; the file is this process's own, and is
 * still checked when read back (a bad file is reported, counted and ignored).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseCmaAddressList } from "@ringwatch/shared";
import type { Logger, PeerAddress } from "@ringwatch/shared";

/** a list of at most 8 "host:port" entries is far below this: anything larger is not ours */
const MAX_FILE_BYTES = 4096;

export interface KnownCmasCounters {
  /** lists from the CMA that changed what this host knew */
  listsLearned: number;
  /** lists refused (malformed: a CMA bug, since they are signed); the assignment itself still applies */
  badLists: number;
  /** the file could not be read back (malformed, too large) or written */
  fileErrors: number;
}

const key = (a: PeerAddress): string => `${a.address}:${a.port}`;

export class KnownCmas {
  readonly counters: KnownCmasCounters = { listsLearned: 0, badLists: 0, fileErrors: 0 };
  private learned: PeerAddress[] = [];

  constructor(
    /** the configured CMA addresses, or the multicast group */
    private readonly configured: readonly PeerAddress[],
    /** where the learned list is kept; undefined: in memory only (simulated hosts) */
    private readonly file: string | undefined,
    private readonly log: Logger,
  ) {}

  /** the CMAs the leader listed, as "host:port" */
  get learnedList(): string[] {
    return this.learned.map(key);
  }

  /** Read the list a previous run learned, if any. */
  load(): void {
    if (!this.file) return;
    let text: string;
    try {
      if (statSync(this.file).size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      return this.badFile(e as Error);
    }
    try {
      const v = JSON.parse(text) as { cmas?: unknown };
      if (!Array.isArray(v.cmas) || v.cmas.some((c) => typeof c !== "string")) throw new Error('expected {"cmas": ["host:port", ...]}');
      this.learned = parseCmaAddressList(v.cmas as string[], "cmas");
      this.log.info({ file: this.file, cmas: this.learnedList }, "CMA addresses learned before this start: announcing to them too");
    } catch (e) {
      this.badFile(e as Error);
    }
  }

  /** The list from a verified assignment ("host:port" each); empty: no list (a CMA alone), nothing changes. */
  learn(items: readonly string[]): void {
    if (items.length === 0) return;
    let list: PeerAddress[];
    try {
      list = parseCmaAddressList(items, "CMA list in the assignment");
    } catch (e) {
      this.counters.badLists++;
      this.log.warn({ err: (e as Error).message }, "CMA list refused; the assignment still applies");
      return;
    }
    const next = [...new Map(list.map((a) => [key(a), a])).values()];
    if (next.map(key).join(",") === this.learnedList.join(",")) return;
    this.learned = next;
    this.counters.listsLearned++;
    this.log.info({ cmas: this.learnedList }, "the CMA listed every CMA of the cluster: announcements go to each of them while no CMA answers");
    this.save();
  }

  /** Where an announcement goes: the CMA that answered last first, then the configured addresses (or group), then the learned ones; each once. */
  announceTargets(current: PeerAddress | undefined): PeerAddress[] {
    const out = new Map<string, PeerAddress>();
    for (const a of [...(current ? [current] : []), ...this.configured, ...this.learned]) if (!out.has(key(a))) out.set(key(a), a);
    return [...out.values()];
  }

  /** whether frames from this address may be a CMA's: one configured or learned */
  knows(from: PeerAddress): boolean {
    return this.configured.some((a) => a.address === from.address && a.port === from.port) || this.learned.some((a) => a.address === from.address && a.port === from.port);
  }

  private save(): void {
    if (!this.file) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ cmas: this.learnedList, savedAtMs: Date.now() })}\n`, { mode: 0o644 });
      renameSync(tmp, this.file); // a crash mid-write leaves the previous list, never half of one
    } catch (e) {
      this.counters.fileErrors++;
      this.log.error({ file: this.file, err: (e as Error).message }, "could not keep the CMA list: a restart will know only the configured CMAs");
    }
  }

  private badFile(e: Error): void {
    this.counters.fileErrors++;
    this.log.warn({ file: this.file, err: e.message }, "CMA list file ignored: announcing to the configured CMAs only until a CMA lists them again");
  }
}
