/**
 * Stats stream positions Zabbix has confirmed: per host, the last batch none of whose values is
 * still waiting anywhere on the way (the bridge's holdback, the sender's spool, values held for
 * items Zabbix does not know yet). Kept in dataDir/stats-delivered.json.
 *
 * Why beside stats-streams.json (what was accepted): a CMA restarted on the same disk still has its
 * spool, so it may refuse what it accepted. A CMA taking over from one whose machine was lost has
 * no spool of the old one: with CMAs in high availability etcd keeps THIS file as the positions a
 * new leader starts from (ha/state-mirror.ts), and the hosts are asked again for everything after
 * it. Values resent that had reached Zabbix are stored once (Zabbix keys history by itemid, clock
 * and ns); values that had not, arrive. What a host no longer retains (statsRetainBatches) cannot
 * be asked for: that, and only that, bounds what losing a leader's machine can lose.
 *
 * Every value of a batch enters the holdback or the spool before the batch is acknowledged
 * (synchronously, in the stats event), and each keeps when it entered: a batch accepted before the
 * oldest value still waiting is delivered, whole.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StreamPosition } from "@ringwatch/shared";

export const DELIVERED_FILE = "stats-delivered.json";
/** accepted batches remembered per host until delivered; older ones are forgotten first (the position then jumps past them once a newer one is delivered: nothing is claimed early) */
const MAX_WAITING_PER_HOST = 10_000;

export class DeliveredPositions {
  readonly path: string;
  private readonly waiting = new Map<string, { stream: number; seq: number; at: number }[]>();
  private readonly delivered: Map<string, StreamPosition>;
  private dirty = false;

  constructor(dataDir: string, initial: ReadonlyMap<string, StreamPosition>) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, DELIVERED_FILE);
    this.delivered = new Map(initial);
    this.dirty = true; // written once at start: it then matches what this CMA starts from
  }

  /** A batch was accepted at `at` (its values are on their way to Zabbix from then on). */
  accepted(host: string, stream: number, seq: number, at: number): void {
    let w = this.waiting.get(host);
    if (!w) this.waiting.set(host, (w = []));
    w.push({ stream, seq, at });
    if (w.length > MAX_WAITING_PER_HOST) w.shift();
  }

  /** Batches accepted before `pendingSince` (every one, when nothing is pending) are delivered. */
  advance(pendingSince: number | undefined): void {
    for (const [host, w] of this.waiting) {
      let last: { stream: number; seq: number } | undefined;
      while (w.length > 0 && (pendingSince === undefined || w[0]!.at < pendingSince)) last = w.shift();
      if (last) {
        this.delivered.set(host, { stream: last.stream, lastSeq: last.seq });
        this.dirty = true;
      }
      if (w.length === 0) this.waiting.delete(host);
    }
  }

  position(host: string): StreamPosition | undefined {
    return this.delivered.get(host);
  }

  /** Write the file if anything changed (atomically: temp file + rename). */
  save(): void {
    if (!this.dirty) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, hosts: Object.fromEntries(this.delivered) }));
    renameSync(tmp, this.path);
    this.dirty = false;
  }
}
