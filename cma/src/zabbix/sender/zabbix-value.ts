/**
 * What the CMA hands to Zabbix: one value of one item of one Zabbix host, with the clock it was
 * measured at (never the time it was sent). Produced by the bridge (membership, inventory, stats,
 * alerts → values), consumed by the durable sender (batching, spool, replay).
 */
export interface ZabbixValue {
  /** Zabbix host name ("host" technical name, not the visible name) */
  host: string;
  /** item key, e.g. ringwatch.domain.cpu[<uuid>] */
  key: string;
  value: string | number;
  /** seconds since the epoch */
  clock: number;
  /** nanoseconds within that second (0..999,999,999) */
  ns: number;
}

/** Where values go. push() never blocks or throws: a value accepted here is never lost. */
export interface ZabbixValueSink {
  push(values: readonly ZabbixValue[]): void;
  /** when the oldest value pushed and not yet confirmed by Zabbix was pushed; undefined: none (the durable sender keeps this) */
  oldestPendingAt?(): number | undefined;
}
