/**
 * The CMA's sink for Zabbix values: push() validates each value and appends it to the on-disk
 * spool before anything else happens (write-ahead: accepted = on disk), then one loop sends them
 * in order, in requests of at most batchMax values, each value with its own clock and ns, and
 * commits the spool position only after the server replied. While Zabbix is unreachable or slow
 * the values wait in the spool (retries with exponential backoff) and are replayed in order with
 * their original timestamps; a restarted CMA continues from the last commit.
 *
 * A reply only counts failures ("processed: N; failed: M"), it does not say which value failed.
 * So values of a (host, key) pair the server has not accepted before are first sent one per
 * request (a probe). A probe that fails means the server does not know the pair yet: its values
 * are held (held-values.ts) and retried with backoff while the onUnknown hook lets the bridge
 * resync Zabbix's configuration; after unknownHoldMs they are dropped and counted. Other pairs go
 * on meanwhile: one unknown item never stalls the rest. If a batch of confirmed pairs still has
 * failures (an item was deleted meanwhile), its values are sent again one per request: values the
 * server had already processed then arrive twice, which Zabbix 6.0 stores once (history tables have
 * the primary key (itemid, clock, ns); the server logs "skipped N duplicates"), while dropping them
 * could lose values of items that were only being re-created. The same holds after a request
 * whose reply was lost (timeout, connection cut): it is resent.
 */
import { EventEmitter } from "node:events";
import { join } from "node:path";
import type { Logger } from "@ringwatch/shared";
import type { CmaConfig } from "../../config.js";
import type { ZabbixValue, ZabbixValueSink } from "./zabbix-value.js";
import { encodeSenderRequest } from "./sender-protocol.js";
import type { SenderReply } from "./sender-protocol.js";
import { ZabbixNoReplyError, ZabbixUnreachableError, parseSenderEndpoint, sendRequest } from "./sender-connection.js";
import type { SenderEndpoint } from "./sender-connection.js";
import { ValueSpool } from "./value-spool.js";
import type { SpoolCorruptEvent } from "./value-spool.js";
import { HeldValues } from "./held-values.js";
import { PairBook } from "./pair-book.js";
import { encodeValueEntry, invalidValueReason, pairIdOfEntry, pairOfId } from "./value-entry.js";

export interface ZabbixPair {
  host: string;
  key: string;
}

export interface DurableSenderOptions {
  /** the Zabbix server's (or proxy's) trapper */
  server: SenderEndpoint;
  /** spool, held values and confirmed pairs live here */
  spoolDir: string;
  /** bound of the spool on disk; past it the oldest values are dropped (counted, "drop" event) */
  spoolMaxBytes: number;
  /** bound of the values held for unknown pairs (default spoolMaxBytes / 8) */
  heldMaxBytes?: number;
  /** values per request */
  batchMax: number;
  /** how long a value may wait for its batch to fill */
  batchMs: number;
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  /** first retry delay after a failed request (doubles up to backoffMaxMs) */
  backoffMinMs?: number;
  backoffMaxMs: number;
  /** how long values of a pair the server does not know are held before they are dropped */
  unknownHoldMs: number;
  /** first / longest delay between probes of an unknown pair */
  unknownRetryMinMs?: number;
  unknownRetryMaxMs?: number;
  /** one-value requests in flight at once */
  probeConcurrency?: number;
  /** zlib-compress requests (saves bandwidth to a remote server; costs CPU on both ends) */
  compress: boolean;
  /** told which pairs the server did not know, each time a probe of theirs fails (also settable later) */
  onUnknown?: (pairs: ZabbixPair[]) => void;
}

export type SenderDropReason = "spoolFull" | "writeError" | "unknownPair" | "heldFull" | "refused";

export interface SenderDropEvent {
  reason: SenderDropReason;
  values: number;
  detail: string;
  pairs?: ZabbixPair[];
}

/** One value on its way: its entry bytes, its pair, and whether it must go in a request of its own. */
interface Work {
  entry: Buffer;
  pair: string;
  solo: boolean;
}

type Outcome = { kind: "reply"; reply: SenderReply } | { kind: "refused"; why: string } | { kind: "transient" };

interface HoldState {
  since: number;
  attempts: number;
  nextProbeAt: number;
}

export class DurableSender extends EventEmitter<{ drop: [SenderDropEvent]; reachable: [boolean]; corrupt: [SpoolCorruptEvent] }> implements ZabbixValueSink {
  readonly counters = {
    /** values pushed and spooled */
    accepted: 0,
    /** values pushed that were not valid (never spooled) */
    rejected: 0,
    requests: 0,
    /** requests of one value (probes of unknown pairs, resends one by one) */
    singleRequests: 0,
    /** values in requests the server answered */
    sent: 0,
    processed: 0,
    failed: 0,
    /** values sent after waiting in the spool through an outage or a restart */
    replayed: 0,
    /** values sent again because a reply was lost or a batch had failures */
    resent: 0,
    dropped: { spoolFull: 0, writeError: 0, unknownPair: 0, heldFull: 0, refused: 0 } as Record<SenderDropReason, number>,
    connectFailures: 0,
    /** retries after a request failed (unreachable, no reply) */
    reconnects: 0,
    noReply: 0,
    badReplies: {} as Record<string, number>,
    outages: 0,
    unknownPairs: 0,
    partialFailures: 0,
    loopErrors: 0,
  };
  private readonly spool: ValueSpool;
  private readonly held: HeldValues;
  private readonly pairs: PairBook;
  private readonly holds = new Map<string, HoldState>();
  /** when the oldest value of the batch being sent from the spool was appended */
  private batchPendingSince: number | undefined;
  /** the bridge's hook: resync Zabbix's configuration for these pairs (see DurableSenderOptions) */
  onUnknown: ((pairs: ZabbixPair[]) => void) | undefined;
  private readonly o: Required<Omit<DurableSenderOptions, "onUnknown">>;
  private firstUnreadAt: number | undefined;
  private replayLeft: number;
  private reachable = true;
  private outageSince = 0;
  /** the batch being delivered met an outage: all of it counts as replayed */
  private batchMetOutage = false;
  private backoffMs: number;
  private stopping = false;
  private wakeIdle: (() => void) | undefined;
  private wakeBackoff: (() => void) | undefined;
  private readonly loop: Promise<void>;

  private constructor(o: DurableSenderOptions, private readonly log: Logger) {
    super();
    this.o = {
      heldMaxBytes: Math.max(1 << 20, Math.floor(o.spoolMaxBytes / 8)), backoffMinMs: 100, unknownRetryMinMs: 1000,
      unknownRetryMaxMs: Math.min(60_000, Math.max(1000, o.unknownHoldMs / 4)), probeConcurrency: 8, ...o,
    };
    this.onUnknown = o.onUnknown;
    this.backoffMs = this.o.backoffMinMs;
    this.spool = ValueSpool.open({ dir: join(o.spoolDir, "queue"), maxBytes: o.spoolMaxBytes }, log);
    this.held = HeldValues.open(join(o.spoolDir, "held.log"), this.o.heldMaxBytes, log);
    this.pairs = PairBook.open(join(o.spoolDir, "confirmed-pairs.log"), log);
    this.spool.on("drop", (e) => {
      this.counters.dropped[e.reason] += e.records;
      this.emit("drop", { reason: e.reason, values: e.records, detail: e.detail });
    });
    this.spool.on("corrupt", (e) => this.emit("corrupt", e));
    const now = Date.now();
    for (const p of this.held.pairs()) this.holds.set(p, { since: now, attempts: 0, nextProbeAt: now });
    this.replayLeft = this.spool.unreadRecords;
    if (this.replayLeft) this.firstUnreadAt = 0;
    this.log.info({ server: `${o.server.host}:${o.server.port}`, spoolDir: o.spoolDir, spooled: this.replayLeft, held: this.held.values, confirmedPairs: this.pairs.size }, "zabbix sender started");
    this.loop = this.run();
  }

  /** Open the spool in o.spoolDir (values left by an earlier run are sent first) and start sending. */
  static start(o: DurableSenderOptions, log: Logger): DurableSender {
    for (const [k, v] of Object.entries({ batchMax: o.batchMax, spoolMaxBytes: o.spoolMaxBytes })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`zabbix sender: ${k} ${v}`);
    }
    return new DurableSender(o, log);
  }

  push(values: readonly ZabbixValue[]): void {
    const entries: Buffer[] = [];
    let firstBad: string | undefined;
    let bad = 0;
    for (const v of values) {
      const why = invalidValueReason(v);
      if (why) {
        bad++;
        firstBad ??= why;
      } else {
        entries.push(encodeValueEntry(v));
      }
    }
    if (bad) {
      this.counters.rejected += bad;
      this.log.warn({ rejected: bad, reason: firstBad }, "zabbix values refused");
    }
    if (!entries.length) return;
    if (this.stopping) {
      // the spool is closing: say so loudly rather than lose quietly
      this.counters.rejected += entries.length;
      this.log.error({ values: entries.length }, "zabbix values pushed after stop(): refused");
      return;
    }
    if (!this.spool.append(entries)) return; // counted and reported by the spool's drop event
    this.counters.accepted += entries.length;
    if (this.firstUnreadAt === undefined) {
      this.firstUnreadAt = Date.now();
      this.wakeIdle?.();
    } else if (this.spool.unreadRecords >= this.o.batchMax) {
      this.wakeIdle?.();
    }
  }

  status(): Record<string, unknown> {
    return {
      reachable: this.reachable,
      ...this.counters,
      spool: {
        values: this.spool.unreadRecords + this.spool.inflightRecords, bytes: this.spool.bytesOnDisk, segments: this.spool.segmentCount,
        corruptTails: this.spool.counters.corruptTails, corruptBytes: this.spool.counters.corruptBytes,
      },
      held: { pairs: this.holds.size, values: this.held.values, bytes: this.held.bytes },
      confirmedPairs: this.pairs.size,
    };
  }

  /** When the oldest value accepted and not yet delivered (spooled, in flight, or held for an unknown pair) was accepted; undefined: none. */
  oldestPendingAt(): number | undefined {
    let t = this.spool.oldestPendingAt();
    // a held pair's values were accepted before it was held
    for (const h of this.holds.values()) t = t === undefined ? h.since : Math.min(t, h.since);
    return t;
  }

  /** values accepted and not yet delivered (spooled, in flight, or held for unknown pairs) */
  get backlog(): number {
    return this.spool.unreadRecords + this.spool.inflightRecords + this.held.values;
  }

  /** Finish the request in flight (retries stop), close the files. What is not delivered stays spooled. */
  async stop(): Promise<void> {
    if (this.stopping) return this.loop;
    this.stopping = true;
    this.wakeIdle?.();
    this.wakeBackoff?.();
    await this.loop;
    this.spool.close();
    this.held.close();
    this.pairs.close();
    this.log.info({ spooled: this.spool.unreadRecords + this.spool.inflightRecords, held: this.held.values }, "zabbix sender stopped");
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const now = Date.now();
        if (this.nextHoldProbe() <= now) await this.retryHeld(now);
        else if (this.batchDue(now)) await this.sendFromSpool();
        else await this.idle();
      } catch (e) {
        // a bug or a disk error must not end delivery for good
        this.counters.loopErrors++;
        this.log.error({ err: (e as Error).stack ?? String(e) }, "zabbix sender: loop error, retrying in 1 s");
        await this.sleep(1000, "backoff");
      }
    }
  }

  private batchDue(now: number): boolean {
    const n = this.spool.unreadRecords;
    return n >= this.o.batchMax || (n > 0 && now - (this.firstUnreadAt ?? now) >= this.o.batchMs);
  }

  private nextHoldProbe(): number {
    let t = Infinity;
    for (const h of this.holds.values()) t = Math.min(t, h.nextProbeAt);
    return t;
  }

  private async idle(): Promise<void> {
    const now = Date.now();
    let until = this.nextHoldProbe();
    if (this.spool.unreadRecords > 0) until = Math.min(until, (this.firstUnreadAt ?? now) + this.o.batchMs);
    await this.sleep(until === Infinity ? undefined : Math.max(1, until - now), "idle");
  }

  private sleep(ms: number | undefined, kind: "idle" | "backoff"): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = ms === undefined ? undefined : setTimeout(done, ms);
      function done(): void {
        if (t) clearTimeout(t);
        resolve();
      }
      if (kind === "idle") this.wakeIdle = done;
      else this.wakeBackoff = done;
    }).then(() => {
      if (kind === "idle") this.wakeIdle = undefined;
      else this.wakeBackoff = undefined;
    });
  }

  private async sendFromSpool(): Promise<void> {
    // values of this batch that get held were accepted no earlier than this (oldestPendingAt stays conservative)
    this.batchPendingSince = this.spool.oldestPendingAt();
    const recs = this.spool.read(this.o.batchMax);
    // what is left was accepted before now: due at once
    if (this.spool.unreadRecords === 0) this.firstUnreadAt = undefined;
    const replayed = Math.min(this.replayLeft, recs.length);
    this.replayLeft -= replayed;
    this.batchMetOutage = false;
    const toPark = await this.deliver(recs.map((r) => r.payload), new Set());
    if (!toPark) return; // stopping: they stay in the spool for the next start
    this.counters.replayed += this.batchMetOutage ? recs.length : replayed;
    this.park(toPark);
    this.spool.commit(recs.length);
    if (this.log.isLevelEnabled("debug")) {
      this.log.debug({ values: recs.length, spooled: this.spool.unreadRecords, spoolBytes: this.spool.bytesOnDisk, held: this.held.values }, "zabbix batch delivered");
    }
  }

  /** Held pairs due for another probe: send their values again, or drop them past unknownHoldMs. */
  private async retryHeld(now: number): Promise<void> {
    const due = [...this.holds].filter(([, h]) => h.nextProbeAt <= now);
    const expired = due.filter(([, h]) => h.attempts > 0 && now - h.since >= this.o.unknownHoldMs).map(([p]) => p);
    if (expired.length) {
      const values = expired.reduce((n, p) => n + this.held.entries(p).length, 0);
      this.held.replace(new Map(expired.map((p) => [p, []])));
      for (const p of expired) this.holds.delete(p);
      this.counters.dropped.unknownPair += values;
      const pairs = expired.map(pairOfId);
      const detail = `${values} values of ${expired.length} pairs unknown to Zabbix for ${Math.round(this.o.unknownHoldMs / 1000)} s dropped`;
      this.log.warn({ values, pairs: pairs.slice(0, 10), pairCount: pairs.length }, "zabbix: values of unknown items dropped");
      this.emit("drop", { reason: "unknownPair", values, detail, pairs });
    }
    const retry = due.map(([p]) => p).filter((p) => !expired.includes(p)).slice(0, 1000);
    if (!retry.length) return;
    const entries = retry.flatMap((p) => this.held.entries(p));
    this.log.debug({ pairs: retry.length, values: entries.length }, "zabbix: retrying held values");
    const toPark = await this.deliver(entries, new Set(retry));
    if (!toPark) return;
    this.held.replace(new Map(retry.map((p) => [p, toPark.get(p) ?? []])));
    for (const p of retry) if (!toPark.has(p)) this.holds.delete(p);
  }

  /** Hold values of pairs found unknown; what does not fit is dropped and counted. */
  private park(toPark: Map<string, Buffer[]>): void {
    for (const [pair, entries] of toPark) {
      if (this.held.add(pair, entries)) continue;
      this.counters.dropped.heldFull += entries.length;
      const detail = `${entries.length} values of unknown pair dropped: held values over ${this.o.heldMaxBytes} bytes`;
      this.log.warn({ values: entries.length, pair: pairOfId(pair), heldBytes: this.held.bytes }, "zabbix: held values full, values dropped");
      this.emit("drop", { reason: "heldFull", values: entries.length, detail, pairs: [pairOfId(pair)] });
    }
  }

  /**
   * Send entries until each is processed, refused (dropped), or found unknown (returned per pair,
   * in order, to be held). Retries transient failures with backoff; undefined if stopped meanwhile.
   * Pairs in `retrying` are being retried from the held values, so holding does not apply to them.
   */
  private async deliver(entries: readonly Buffer[], retrying: ReadonlySet<string>): Promise<Map<string, Buffer[]> | undefined> {
    let pending: Work[] = [];
    for (const entry of entries) {
      const pair = pairIdOfEntry(entry);
      if (pair) pending.push({ entry, pair, solo: false });
      else this.log.error({ entry: entry.subarray(0, 100).toString() }, "zabbix: spooled record is not a value entry; skipped"); // checksummed, so only a bug gets here
    }
    const toPark = new Map<string, Buffer[]>();
    while (pending.length) {
      const unknown = new Set<string>();
      const r = await this.round(pending, toPark, retrying, unknown);
      if (unknown.size) this.noteUnknown(unknown);
      pending = r.left;
      if (pending.length && r.transient) {
        if (this.stopping) return undefined;
        await this.sleep(this.backoffMs, "backoff");
        this.backoffMs = Math.min(this.o.backoffMaxMs, this.backoffMs * 2);
        if (this.stopping) return undefined;
        this.counters.reconnects++;
      }
    }
    return toPark;
  }

  /** One pass: a shared request for confirmed pairs, one-value requests for the others. */
  private async round(pending: readonly Work[], toPark: Map<string, Buffer[]>, retrying: ReadonlySet<string>, unknown: Set<string>): Promise<{ left: Work[]; transient: boolean }> {
    const ready: Work[] = [];
    const singles: Work[] = [];
    const waiting = new Set<string>(); // pairs with a one-value request in this pass: the rest of their values wait
    const done = new Set<Work>();
    for (const w of pending) {
      const parked = toPark.get(w.pair);
      if (parked || (this.held.has(w.pair) && !retrying.has(w.pair))) {
        if (parked) parked.push(w.entry);
        else toPark.set(w.pair, [w.entry]);
        done.add(w);
      } else if (waiting.has(w.pair)) {
        continue;
      } else if (w.solo || !this.pairs.has(w.pair)) {
        singles.push(w);
        waiting.add(w.pair);
      } else {
        ready.push(w);
      }
    }
    let transient = false;
    const shared = async (): Promise<void> => {
      for (let i = 0; i < ready.length && !transient; i += this.o.batchMax) {
        const chunk = ready.slice(i, i + this.o.batchMax);
        const o = await this.request(chunk.map((w) => w.entry));
        if (o.kind === "transient") {
          transient = true;
        } else if (o.kind === "refused" || o.reply.failed > 0) {
          // which values failed is unknown: each goes again in a request of its own
          if (o.kind === "reply") this.counters.partialFailures++;
          this.counters.resent += o.kind === "reply" ? chunk.length : 0;
          this.log.warn({ values: chunk.length, reply: o.kind === "reply" ? o.reply.info : o.why }, "zabbix: batch not fully processed; resending its values one per request");
          this.pairs.forget(new Set(chunk.map((w) => w.pair)));
          for (const w of chunk) w.solo = true;
          break; // later chunks wait, so each pair's values still arrive in order
        } else {
          for (const w of chunk) done.add(w);
        }
      }
    };
    const single = async (w: Work): Promise<void> => {
      const o = await this.request([w.entry]);
      if (o.kind === "transient") {
        transient = true;
      } else if (o.kind === "refused") {
        done.add(w);
        this.counters.dropped.refused++;
        const detail = `value refused by the server: ${o.why}`;
        this.log.warn({ pair: pairOfId(w.pair), why: o.why }, "zabbix: value refused, dropped");
        this.emit("drop", { reason: "refused", values: 1, detail, pairs: [pairOfId(w.pair)] });
      } else if (o.reply.processed > 0) {
        done.add(w);
        this.pairs.confirm(w.pair);
      } else {
        done.add(w);
        toPark.set(w.pair, [w.entry]); // the first of its pair here: the rest follow it next pass
        unknown.add(w.pair);
      }
    };
    await Promise.all([shared(), this.eachLimited(singles, single)]);
    return { left: pending.filter((w) => !done.has(w)), transient };
  }

  private async eachLimited(items: readonly Work[], fn: (w: Work) => Promise<void>): Promise<void> {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < items.length) await fn(items[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.o.probeConcurrency, items.length) }, lane));
  }

  private async request(entries: Buffer[]): Promise<Outcome> {
    this.counters.requests++;
    if (entries.length === 1) this.counters.singleRequests++;
    try {
      const reply = await sendRequest(this.o.server, encodeSenderRequest(entries, this.o.compress), {
        connectTimeoutMs: this.o.connectTimeoutMs, replyTimeoutMs: this.o.replyTimeoutMs,
      });
      this.counters.sent += entries.length;
      this.counters.processed += reply.processed;
      this.counters.failed += reply.failed;
      this.reached();
      if (this.log.isLevelEnabled("debug")) {
        this.log.debug({ values: entries.length, processed: reply.processed, failed: reply.failed, serverSeconds: reply.secondsSpent }, "zabbix reply");
      }
      return { kind: "reply", reply };
    } catch (e) {
      const err = e as Error;
      if (err instanceof ZabbixNoReplyError && err.protocol?.reason === "refused") {
        this.reached();
        return { kind: "refused", why: err.message };
      }
      if (err instanceof ZabbixUnreachableError) {
        this.counters.connectFailures++;
      } else {
        // the server may have processed it: it is sent again (see the header comment)
        this.counters.noReply++;
        this.counters.resent += entries.length;
        if (err instanceof ZabbixNoReplyError && err.protocol) this.counters.badReplies[err.protocol.reason] = (this.counters.badReplies[err.protocol.reason] ?? 0) + 1;
      }
      this.unreachable(err);
      return { kind: "transient" };
    }
  }

  private reached(): void {
    this.backoffMs = this.o.backoffMinMs;
    if (this.reachable) return;
    this.reachable = true;
    // everything spooled meanwhile is a replay (and the batch being retried: batchMetOutage)
    this.replayLeft = this.spool.unreadRecords;
    this.log.info({ outageS: Math.round((Date.now() - this.outageSince) / 100) / 10, spooled: this.spool.unreadRecords + this.spool.inflightRecords, spoolBytes: this.spool.bytesOnDisk }, "zabbix reachable again; replaying spooled values");
    this.emit("reachable", true);
  }

  private unreachable(err: Error): void {
    if (!this.reachable) {
      this.log.debug({ err: err.message, retryInMs: this.backoffMs, spooled: this.spool.unreadRecords + this.spool.inflightRecords }, "zabbix still unreachable");
      return;
    }
    this.reachable = false;
    this.batchMetOutage = true;
    this.outageSince = Date.now();
    this.counters.outages++;
    this.log.warn({ err: err.message, spooled: this.spool.unreadRecords + this.spool.inflightRecords }, "zabbix unreachable; values are spooled until it answers");
    this.emit("reachable", false);
  }

  /** Pairs whose probe failed: hold their values, schedule the next probe, tell the bridge. */
  private noteUnknown(pairs: Set<string>): void {
    const now = Date.now();
    for (const p of pairs) {
      const h = this.holds.get(p);
      if (!h) this.counters.unknownPairs++;
      const attempts = (h?.attempts ?? 0) + 1;
      const delay = Math.min(this.o.unknownRetryMaxMs, this.o.unknownRetryMinMs * 2 ** (attempts - 1));
      this.holds.set(p, { since: h?.since ?? Math.min(now, this.batchPendingSince ?? now), attempts, nextProbeAt: now + delay });
    }
    const list = [...pairs].map(pairOfId);
    this.log.info({ pairs: list.slice(0, 10), pairCount: list.length }, "zabbix does not know these items (yet): values held, asking for a resync");
    try {
      this.onUnknown?.(list);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "zabbix onUnknown hook threw");
    }
  }
}

/** The sender's options from the CMA configuration; undefined when zabbixServer is empty (no Zabbix). */
export function durableSenderOptions(
  cfg: Pick<CmaConfig, "zabbixServer" | "spoolDir" | "dataDir" | "spoolMaxBytes" | "senderBatchMax" | "senderBatchMs" | "senderConnectTimeoutMs" | "senderReplyTimeoutMs" | "senderBackoffMaxMs" | "senderUnknownHoldMs" | "senderCompress">,
  onUnknown?: (pairs: ZabbixPair[]) => void,
): DurableSenderOptions | undefined {
  if (!cfg.zabbixServer) return undefined;
  return {
    server: parseSenderEndpoint(cfg.zabbixServer), spoolDir: cfg.spoolDir || join(cfg.dataDir, "zabbix-spool"), spoolMaxBytes: cfg.spoolMaxBytes,
    batchMax: cfg.senderBatchMax, batchMs: cfg.senderBatchMs, connectTimeoutMs: cfg.senderConnectTimeoutMs, replyTimeoutMs: cfg.senderReplyTimeoutMs,
    backoffMaxMs: cfg.senderBackoffMaxMs, unknownHoldMs: cfg.senderUnknownHoldMs, compress: cfg.senderCompress, onUnknown,
  };
}
