/**
 * Leader election on etcd: one CMA leads while it holds the leader key under its lease; the others
 * stand by and take the key when it goes (the leader's lease lapsed, or it resigned).
 *
 * - Campaign: a transaction creates the key only if it does not exist, bound to a fresh lease.
 *   The key's create revision is the leader's **epoch**: etcd revisions only grow, so every new
 *   leader's epoch is above every earlier one, and nanoprobes refuse commands from an older epoch.
 * - Holding: the lease is renewed every third of its TTL (as etcd's Go client does). This CMA
 *   counts itself leader only until the last renewal etcd answered, measured from when it was
 *   sent, plus the TTL, minus a margin, on its own monotonic clock. So a leader that was frozen
 *   (SIGSTOP, a long GC, a VM pause) past its lease knows it is deposed the moment it runs again,
 *   before any timer of its own can command: `holds()` is what every command asks first.
 * - Each renewal also reads the key back: a key deleted by hand, or taken by another, deposes too.
 *
 * Written here rather than with etcd3's Election class because the epoch and the local deadline
 * are the point: the class exposes neither the key's create revision nor when a renewal was sent.
 */
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import type { Etcd3, Lease } from "etcd3";
import type { Logger } from "@ringwatch/shared";

export interface LeaderElectionOptions {
  /** the leader key: <etcdPrefix>/<cluster>/leader */
  key: string;
  /** who this CMA is (stored as the key's value: what `etcdctl get` shows) */
  id: string;
  leaseSeconds: number;
  /** how often a standby looks at the key (and tries to take it when it is gone) */
  pollMs?: number;
  /** clients a renewal is sent through, all at once: one per etcd member, so that a dead or frozen
   * member (or the one the main client happens to use) does not stop the renewals; default: the main client */
  renewers?: Etcd3[];
}

/** a standby reads the key this often: at most this much is added to a failover */
export const STANDBY_POLL_MS = 200;

export interface LeaderElectionCounters {
  campaigns: number;
  elected: number;
  deposed: number;
  renewals: number;
  renewalFailures: number;
  etcdErrors: number;
}

export class LeaderElection extends EventEmitter<{ elected: [number]; deposed: [string] }> {
  /** the epoch this CMA leads in; 0 while it does not lead */
  epoch = 0;
  readonly counters: LeaderElectionCounters = { campaigns: 0, elected: 0, deposed: 0, renewals: 0, renewalFailures: 0, etcdErrors: 0 };
  private lease: Lease | undefined;
  /** performance.now() past which this CMA no longer counts itself leader */
  private validUntil = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private stopped = false;
  /** the etcd error last seen, for the status */
  lastError = "";
  /** who held the leader key when a standby last read it (its value: identity@host:pid); "" when nobody */
  leaderSeen = "";

  constructor(
    private readonly client: Etcd3,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  /** a margin under the lease: renewals answered late, and the two clocks' rates */
  private get marginMs(): number {
    return Math.max(200, this.opts.leaseSeconds * 100);
  }

  get leading(): boolean {
    return this.epoch > 0;
  }

  /** True while this CMA leads and its lease has certainly not lapsed: ask before every command. */
  holds(): boolean {
    if (!this.leading) return false;
    if (performance.now() < this.validUntil) return true;
    this.depose("the lease was not renewed in time (this process or etcd was unreachable)");
    return false;
  }

  /** Stand by until this CMA leads; resolves with its epoch (rejects only when stopped). */
  async campaign(): Promise<number> {
    const pollMs = this.opts.pollMs ?? STANDBY_POLL_MS;
    for (;;) {
      if (this.stopped) throw new Error("leader election stopped");
      try {
        const epoch = await this.tryOnce();
        if (epoch > 0) return epoch;
      } catch (e) {
        this.counters.etcdErrors++;
        this.noteError(e, "campaign");
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** One attempt: read the key; when nobody holds it, try to create it under a new lease. */
  private async tryOnce(): Promise<number> {
    const held = await this.client.get(this.opts.key).exec();
    this.leaderSeen = held.kvs[0]?.value.toString() ?? "";
    if (held.kvs.length > 0) return 0;
    this.counters.campaigns++;
    const sentAt = performance.now();
    const lease = this.client.lease(this.opts.leaseSeconds, { autoKeepAlive: false });
    lease.on("lost", () => undefined); // handled by the renewals; an unheard 'lost' must not throw
    const leaseId = await lease.grant();
    const res = await this.client.if(this.opts.key, "Create", "==", 0).then(this.client.put(this.opts.key).value(this.opts.id).lease(leaseId)).commit();
    if (!res.succeeded) {
      await lease.revoke().catch(() => undefined);
      return 0;
    }
    if (this.stopped) {
      await lease.revoke().catch(() => undefined);
      return 0;
    }
    this.lease = lease;
    this.epoch = Number(res.header.revision);
    this.validUntil = sentAt + this.opts.leaseSeconds * 1000 - this.marginMs;
    this.counters.elected++;
    this.lastError = "";
    this.renewTimer = setInterval(() => void this.renew(), Math.max(100, (this.opts.leaseSeconds * 1000) / 3));
    // deposed on time even when nothing asks holds(): the process stops commanding and forwarding
    this.deadlineTimer = setInterval(() => this.holds(), 100);
    this.log.info({ epoch: this.epoch, key: this.opts.key, leaseSeconds: this.opts.leaseSeconds }, "elected leader");
    this.emit("elected", this.epoch);
    return this.epoch;
  }

  private async renew(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.renewing || !this.leading) return;
    this.renewing = true;
    const epoch = this.epoch;
    const sentAt = performance.now();
    try {
      const id = await lease.grant();
      const timeoutMs = (this.opts.leaseSeconds * 1000) / 3;
      // through every member at once: the first answer counts
      const ttl = await Promise.any((this.opts.renewers ?? [this.client]).map((c) => keepAliveThrough(c, id, timeoutMs)));
      if (this.epoch !== epoch) return; // deposed meanwhile
      if (ttl <= 0) {
        this.depose("etcd says the lease expired");
        return;
      }
      this.counters.renewals++;
      this.validUntil = Math.max(this.validUntil, sentAt + ttl * 1000 - this.marginMs);
    } catch (e) {
      if (this.epoch !== epoch) return;
      this.counters.renewalFailures++;
      const errors = e instanceof AggregateError ? e.errors : [e];
      this.noteError(new Error(errors.map((x: unknown) => (x as Error).message).join("; ")), "lease renewal");
      return; // tried again at the next tick, until the local deadline deposes
    } finally {
      this.renewing = false;
    }
    void this.checkKey(epoch);
  }

  /** The key read back: still ours, from our election? (a key deleted by hand, or taken, deposes) */
  private async checkKey(epoch: number): Promise<void> {
    try {
      const kv = (await this.client.get(this.opts.key).exec()).kvs[0];
      if (this.epoch !== epoch) return;
      if (!kv || Number(kv.create_revision) !== epoch) this.depose(kv ? `another CMA holds the leader key (epoch ${kv.create_revision})` : "the leader key is gone");
    } catch (e) {
      this.noteError(e, "reading the leader key"); // the lease decides: its deadline deposes if etcd stays unreachable
    }
  }

  private depose(reason: string): void {
    if (!this.leading) return;
    const epoch = this.epoch;
    this.epoch = 0;
    this.validUntil = 0;
    this.clearTimers();
    const lease = this.lease;
    this.lease = undefined;
    // a lapsed lease is gone already; one still alive (the key was taken from us) is given up
    void lease?.revoke().catch(() => undefined);
    this.counters.deposed++;
    this.log.warn({ epoch, reason }, "no longer leader: commands and forwarding stop now");
    this.emit("deposed", reason);
  }

  /** Give the key up at once (a clean stop): a standby takes over without waiting out the lease. */
  async resign(): Promise<void> {
    const lease = this.lease;
    if (!this.leading) return;
    this.epoch = 0;
    this.validUntil = 0;
    this.clearTimers();
    this.lease = undefined;
    await lease?.revoke().catch((e: unknown) => this.noteError(e, "resign"));
    this.log.info("resigned the leadership");
  }

  /** Stop campaigning and renewing (does not resign: call resign() first for a clean handover). */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.lease?.release();
  }

  private clearTimers(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.deadlineTimer) clearInterval(this.deadlineTimer);
    this.renewTimer = this.deadlineTimer = undefined;
  }

  private noteError(e: unknown, what: string): void {
    const msg = `${what}: ${(e as Error).message}`;
    if (msg !== this.lastError) this.log.warn({ err: msg }, "etcd error");
    this.lastError = msg;
  }
}

/** One lease renewal through one client; resolves with the TTL etcd gives (≤ 0: the lease is gone). */
async function keepAliveThrough(client: Etcd3, id: string, timeoutMs: number): Promise<number> {
  const stream = await client.leaseClient.leaseKeepAlive();
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const done = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        stream.end();
      } catch {
        // already closed
      }
      f();
    };
    const timer = setTimeout(() => done(() => reject(new Error("lease renewal not answered in time"))), timeoutMs);
    stream.on("data", (res: { TTL: string | number }) => done(() => resolve(Number(res.TTL))));
    stream.on("error", (e: Error) => done(() => reject(e))); // also swallows errors after the end
    stream.write({ ID: id });
  });
}
