/**
 * The CMAs of one cluster, as etcd knows them. Each CMA, leading or standing by, keeps the address
 * nanoprobes reach it at under <base>/members/<id>, bound to a lease of its own, so a CMA that dies
 * drops out of the list when its lease lapses and one that starts appears in it. The leader reads
 * the list and signs it into every host's assignment (ring-service.ts): a host whose CMA died, or
 * that restarted while it was down, announces to each CMA listed and finds the one leading.
 *
 * The key is written once per start (and again only if etcd lost the lease); keep-alives renew the
 * lease without writing a revision, so the steady state still writes nothing.
 */
import type { Etcd3, Lease } from "etcd3";
import { MAX_CMA_ADDRESSES, parseHostPort } from "@ringwatch/shared";
import type { Logger } from "@ringwatch/shared";

/** a registration's lease: long enough that a slow etcd does not drop a live CMA, short enough that a dead one leaves the hosts' list within a minute */
export const MEMBER_LEASE_SECONDS = 15;
/** a lost registration is made again after this long */
const REREGISTER_MS = 1000;

export interface CmaMembersCounters {
  registrations: number;
  registrationFailures: number;
  /** values under the prefix that are not a "host:port" (a hand edit): left out of the list */
  badEntries: number;
}

export class CmaMembers {
  readonly counters: CmaMembersCounters = { registrations: 0, registrationFailures: 0, badEntries: 0 };
  private lease: Lease | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: Etcd3,
    private readonly opts: { prefix: string; id: string; address: string | undefined; leaseSeconds?: number },
    private readonly log: Logger,
  ) {}

  /** Register this CMA's address (none: it is left out of the list, said once). */
  start(): void {
    if (!this.opts.address) {
      this.log.warn("no haAdvertiseAddress and bindAddress is 0.0.0.0: this CMA is not in the list hosts are given (set haAdvertiseAddress)");
      return;
    }
    void this.register();
  }

  private async register(): Promise<void> {
    if (this.stopped) return;
    const lease = this.client.lease(this.opts.leaseSeconds ?? MEMBER_LEASE_SECONDS);
    this.lease = lease;
    lease.on("lost", (e) => {
      if (this.stopped || this.lease !== lease) return;
      this.log.warn({ err: e.message }, "this CMA's registration in etcd lapsed: registering again");
      this.again();
    });
    try {
      await lease.put(this.key).value(this.opts.address!);
      this.counters.registrations++;
      this.log.info({ key: this.key, address: this.opts.address }, "registered in etcd as one of the cluster's CMAs");
    } catch (e) {
      this.counters.registrationFailures++;
      this.log.warn({ err: (e as Error).message }, "could not register this CMA in etcd: trying again");
      if (this.lease === lease) this.again();
    }
  }

  private again(): void {
    const old = this.lease;
    this.lease = undefined;
    old?.release();
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.register();
    }, REREGISTER_MS);
  }

  private get key(): string {
    return `${this.opts.prefix}${this.opts.id}`;
  }

  /** Every registered CMA, "host:port", sorted, at most MAX_CMA_ADDRESSES (malformed values counted and left out). */
  async list(): Promise<string[]> {
    const values = Object.values(await this.client.getAll().prefix(this.opts.prefix).strings());
    const good = new Set<string>();
    for (const v of values) {
      try {
        const a = parseHostPort(v, "CMA address in etcd");
        good.add(`${a.address}:${a.port}`);
      } catch {
        this.counters.badEntries++;
      }
    }
    return [...good].sort().slice(0, MAX_CMA_ADDRESSES);
  }

  /** Leave the list at once (a clean stop), rather than when the lease lapses. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await lease.revoke().catch(() => lease.release());
  }
}

/** The address this CMA registers: haAdvertiseAddress, else bindAddress:port unless bound to every address. */
export function advertisedAddress(cfg: { haAdvertiseAddress: string; bindAddress: string; port: number }): string | undefined {
  if (cfg.haAdvertiseAddress) {
    const a = parseHostPort(cfg.haAdvertiseAddress, "haAdvertiseAddress");
    return `${a.address}:${a.port}`;
  }
  return cfg.bindAddress === "0.0.0.0" ? undefined : `${cfg.bindAddress}:${cfg.port}`;
}
