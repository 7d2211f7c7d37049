/**
 * A CMA in high availability (etcdEndpoints set): stand by until elected, then restore the state
 * from etcd, start the CMA as it runs alone (with the epoch on every command), mirror its state
 * back while leading; deposed, stop at once and stand by again. A clean stop resigns, so a standby
 * takes over without waiting out the lease.
 *
 * A standby opens nothing but its etcd connection and its HTTP port: no UDP socket (only the
 * leader answers announcements and the multicast group), no Zabbix sender; on the HTTP port every
 * route answers 503 with who leads (standby-http.ts).
 */
import { hostname } from "node:os";
import { Etcd3 } from "etcd3";
import { ConfigError } from "@ringwatch/shared";
import type { Keyring, Logger } from "@ringwatch/shared";
import type { KeyObject } from "node:crypto";
import type { CmaConfig } from "../config.js";
import { Cma } from "../cma.js";
import { LeaderElection } from "./leader-election.js";
import { StateMirror } from "./state-mirror.js";
import { CmaMembers, advertisedAddress } from "./cma-members.js";
import { StandbyHttp } from "./standby-http.js";
import { parseListenAddress } from "../http/listen-address.js";
import { loadTls } from "../http/tls-files.js";

/** the CMAs' list is read this often (a standby names them; the leader tells the hosts): a standby started or lost reaches the hosts' lists within this and one round of assignments */
export const CMA_LIST_POLL_MS = 2000;

export interface HaDeps {
  keyring: Keyring;
  commandKey: KeyObject;
  log: Logger;
  /** called with each CMA this process starts while it leads (the CLI logs its status) */
  onLeading?: (cma: Cma, epoch: number) => void;
}

/** The etcd endpoints option: http(s) URLs, comma-separated. */
export function parseEtcdEndpoints(v: string): string[] {
  const hosts = v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const h of hosts) if (!/^https?:\/\/[^/\s]+\/?$/.test(h)) throw new ConfigError(`etcdEndpoints: expected http://host:port URLs, comma-separated; got ${JSON.stringify(h)}`);
  if (hosts.length === 0) throw new ConfigError("etcdEndpoints: empty");
  return hosts;
}

/** every unary call has a deadline: a frozen member must not hang a campaign or a state write (the pool tries another member next time) */
export const ETCD_CALL_DEADLINE_MS = 2000;

export function etcdClient(hosts: string[]): Etcd3 {
  return new Etcd3({ hosts, dialTimeout: ETCD_CALL_DEADLINE_MS, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + ETCD_CALL_DEADLINE_MS }) });
}

/** the keys of one ringwatch cluster in etcd */
export function etcdKeys(cfg: Pick<CmaConfig, "etcdPrefix" | "cluster">): { leader: string; state: string; members: string } {
  const base = `${cfg.etcdPrefix.replace(/\/+$/, "")}/${cfg.cluster}`;
  return { leader: `${base}/leader`, state: `${base}/state/`, members: `${base}/members/` };
}

export class HaRunner {
  readonly election: LeaderElection;
  readonly mirror: StateMirror;
  /** every CMA of the cluster, this one registered among them */
  readonly members: CmaMembers;
  /** the HTTP port while standing by */
  readonly standbyHttp: StandbyHttp;
  /** the CMAs' list as last read (a standby's 503 names them; a leader hands it to its CMA) */
  private knownCmas: string[] = [];
  /** the CMA while this process leads */
  cma: Cma | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly client: Etcd3;
  /** one client per etcd member: renewals go through all of them at once */
  private readonly renewers: Etcd3[];
  private readonly keys: { leader: string; state: string; members: string };

  constructor(
    private readonly cfg: CmaConfig,
    private readonly deps: HaDeps,
  ) {
    if (!cfg.dataDir) throw new ConfigError("etcdEndpoints needs dataDir: the state restored from etcd is written there before the CMA starts");
    const hosts = parseEtcdEndpoints(cfg.etcdEndpoints);
    const advertised = advertisedAddress(cfg); // a bad haAdvertiseAddress stops the start, naming it
    this.client = etcdClient(hosts);
    this.renewers = hosts.map((h) => etcdClient([h]));
    this.keys = etcdKeys(cfg);
    const log = deps.log.child({ component: "ha" });
    const id = `${cfg.identity}@${hostname()}:${process.pid}`;
    this.election = new LeaderElection(this.client, { key: this.keys.leader, id, leaseSeconds: cfg.haLeaseSeconds, renewers: this.renewers }, log);
    this.members = new CmaMembers(this.client, { prefix: this.keys.members, id, address: advertised }, log);
    const listen = parseListenAddress(cfg.httpListen); // bad values stop the start here, as the CMA's own check would
    this.standbyHttp = new StandbyHttp(listen, listen ? loadTls(cfg.httpsCert, cfg.httpsKey) : undefined, () => ({ leader: this.election.leaderSeen, cmas: this.knownCmas }), log);
    this.mirror = new StateMirror(this.client, this.keys.state, cfg.dataDir, log);
  }

  status(): Record<string, unknown> {
    return {
      epoch: this.election.epoch, leading: this.election.leading, election: this.election.counters, stateMirror: this.mirror.counters, members: this.members.counters,
      ...(this.election.leading ? {} : { leader: this.election.leaderSeen, standbyHttpAnswered: this.standbyHttp.answered }),
      ...(this.cma ? { cmasListed: this.cma.rings.cmaList } : {}),
      ...(this.election.lastError ? { etcdError: this.election.lastError } : {}), ...(this.mirror.lastError ? { stateMirrorError: this.mirror.lastError } : {}),
    };
  }

  /** Lead or stand by until stop(); a CMA that cannot start (its configuration) ends it with the error. */
  async run(): Promise<void> {
    const log = this.deps.log;
    this.members.start();
    // one reader of the CMAs' list, leading or not (a read, no write): a standby's 503 names them,
    // a leader's CMA sends them to the hosts when they change
    const refreshList = (): void => void this.cmaList(this.knownCmas).then((l) => {
      this.knownCmas = l;
      this.cma?.rings.setCmaAddresses(l);
    });
    refreshList();
    const listTimer = setInterval(refreshList, CMA_LIST_POLL_MS);
    try {
      while (!this.stopping) {
        await this.standbyHttp.open();
        log.info({ etcd: this.cfg.etcdEndpoints, key: this.keys.leader }, "standing by for the leadership");
        let epoch: number;
        try {
          epoch = await this.election.campaign();
        } catch {
          break; // stopped
        }
        await this.standbyHttp.close(); // the elected CMA opens its own server on the port
        if (!(await this.restoreState())) continue;
        await this.lead(epoch);
      }
    } finally {
      clearInterval(listTimer);
      await this.standbyHttp.close();
      this.election.stop();
      await this.members.stop();
      this.client.close();
      for (const c of this.renewers) c.close();
    }
  }

  private async restoreState(): Promise<boolean> {
    try {
      await this.mirror.restore();
      return true;
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message }, "could not read the state from etcd: giving the leadership up");
      await this.election.resign();
      await new Promise((r) => setTimeout(r, 1000));
      return false;
    }
  }

  private async lead(epoch: number): Promise<void> {
    const deposed = new Promise<void>((resolve) => {
      this.election.once("deposed", () => resolve());
      this.wake = resolve;
    });
    let cma: Cma;
    const fence = { leaderKey: this.keys.leader, epoch };
    // the hosts are told every CMA with their first assignments: read afresh before the CMA starts
    const cmaAddresses = (this.knownCmas = await this.cmaList(this.knownCmas));
    try {
      cma = await Cma.start(this.cfg, { ...this.deps, leadership: { epoch, holds: () => this.election.holds(), persist: () => this.mirror.flush(fence), cmaAddresses } });
    } catch (e) {
      await this.election.resign();
      throw e;
    }
    this.cma = cma;
    cma.haStatus = () => this.status();
    this.mirror.start(fence, this.cfg.haStateSyncMs);
    this.deps.onLeading?.(cma, epoch);
    await deposed;
    this.mirror.stop();
    this.cma = undefined;
    await cma.stop();
    // stopping while still leader: the last state goes to etcd, then a standby may take over at once
    if (this.election.leading) {
      await this.mirror.sync(fence);
      await this.election.resign();
    }
  }

  /** the CMAs registered in etcd; etcd unreachable: `otherwise` (the list the hosts have stays as it is) */
  private async cmaList(otherwise: readonly string[]): Promise<string[]> {
    try {
      return await this.members.list();
    } catch (e) {
      this.deps.log.debug({ err: (e as Error).message }, "could not read the CMAs' list from etcd");
      return [...otherwise];
    }
  }

  /** Stop: a leader stops its CMA, writes its last state and resigns; a standby stops campaigning. */
  stop(): void {
    this.stopping = true;
    this.election.stop();
    this.wake?.();
  }
}
