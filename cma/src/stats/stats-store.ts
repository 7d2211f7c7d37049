/**
 * Stats batches from the nanoprobes: decoded and validated (shared/src/metrics), the latest kept
 * per host, each an event for the Zabbix bridge. A batch naming a key table the CMA does not know
 * (it restarted and the host has not re-sent its table yet) is counted, not guessed at.
 */
import { EventEmitter } from "node:events";
import { BatchCodecError, StatsBatchReceiver, UnknownKeyTableError } from "@ringwatch/shared";
import type { Logger, StatsBatch } from "@ringwatch/shared";

export interface StatsEvent {
  host: string;
  batch: StatsBatch;
}

export class StatsStore extends EventEmitter<{ event: [StatsEvent] }> {
  private readonly receiver = new StatsBatchReceiver();
  private readonly latestByHost = new Map<string, StatsBatch>();
  readonly counters = { batches: 0, series: 0, refused: 0, unknownTable: 0 };

  constructor(private readonly log: Logger) {
    super();
  }

  latest(host: string): StatsBatch | undefined {
    return this.latestByHost.get(host);
  }

  apply(host: string, bytes: Uint8Array): boolean {
    let batch: StatsBatch;
    try {
      batch = this.receiver.decode(host, bytes);
    } catch (e) {
      if (e instanceof UnknownKeyTableError) this.counters.unknownTable++;
      else this.counters.refused++;
      this.log.warn({ host, err: (e as Error).message, codec: e instanceof BatchCodecError }, "stats batch refused");
      return false;
    }
    this.counters.batches++;
    this.counters.series += batch.series.length;
    this.latestByHost.set(host, batch);
    this.emit("event", { host, batch });
    return true;
  }
}
