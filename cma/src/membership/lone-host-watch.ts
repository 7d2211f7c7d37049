/**
 * Nobody goes unwatched: a host with no ring neighbour (alone in the cluster, or left alone by
 * deaths) has nobody to report its silence, so the CMA watches it itself, as a neighbour would:
 * it probes it every heartbeat interval and, once the host has answered no probe for the ring's
 * deadtime, hands it to death confirmation (which probes once more before any verdict). A lone host
 * that answers stays alive; a probe or two lost is no death, only deadtime of silence is.
 *
 * By the ring plan, a host lacks neighbours only when it is the one host in the rings, so this
 * costs one probe a second at most, and nothing at all while the rings have two hosts or more.
 * No I/O of its own: probes and the verdict go through what the ring service passes in.
 */
import type { Logger, PeerAddress } from "@ringwatch/shared";
import type { HostRecord, Membership } from "./membership.js";

export interface LoneHostWatchOptions {
  /** how often a lone host is probed: the heartbeat interval its neighbours would use */
  probeEveryMs: number;
  /** silence (no probe answered) after which it is handed to death confirmation: the ring's deadtime */
  deadtimeMs: number;
}

export interface LoneHostWatchDeps {
  membership: Pick<Membership, "hosts" | "neighboursOf">;
  /** a direct probe: true if the host answered */
  probe: (to: PeerAddress) => Promise<boolean>;
  /** the host answered nothing for deadtime: confirm its death (as a neighbour's DEAD report would) */
  silent: (h: HostRecord) => void;
  log: Logger;
}

interface Watched {
  host: HostRecord;
  /** when it last answered, or when the watch began */
  lastAnswer: number;
  probing: boolean;
}

export class LoneHostWatch {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly deps: LoneHostWatchDeps,
    private readonly opts: LoneHostWatchOptions,
  ) {}

  /** Names of the hosts watched now. */
  get hosts(): string[] {
    return [...this.watched.keys()];
  }

  /** The rings were planned again: watch exactly the hosts in them that have no neighbour. */
  refresh(now = Date.now()): void {
    if (this.stopped) return;
    const lone = this.deps.membership.hosts().filter((h) => this.deps.membership.neighboursOf(h.name)?.length === 0);
    const names = new Set(lone.map((h) => h.name));
    for (const name of this.watched.keys()) if (!names.has(name)) this.watched.delete(name);
    for (const h of lone) {
      const w = this.watched.get(h.name);
      if (w && w.host === h) continue;
      // the watch starts now: it was watched by its neighbours until this plan
      this.watched.set(h.name, { host: h, lastAnswer: now, probing: false });
      this.deps.log.info({ host: h.name }, "host has no ring neighbour: the CMA probes it itself");
    }
    if (this.watched.size > 0 && !this.timer) this.timer = setInterval(() => this.tick(), this.opts.probeEveryMs);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    this.stopped = true;
    this.watched.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const w of this.watched.values()) {
      // suspect: its death is being confirmed already; other states leave the rings at the next plan
      if (w.probing || w.host.state !== "alive") continue;
      w.probing = true;
      void this.deps.probe(w.host).then((answered) => {
        w.probing = false;
        if (this.stopped || this.watched.get(w.host.name) !== w) return; // no longer lone meanwhile
        const now = Date.now();
        if (answered) {
          w.lastAnswer = now;
          return;
        }
        if (w.host.state !== "alive" || now - w.lastAnswer < this.opts.deadtimeMs) return;
        this.deps.log.info({ host: w.host.name, silentMs: now - w.lastAnswer }, "lone host silent for deadtime: confirming its death");
        w.lastAnswer = now; // if it answers the confirmation after all, it gets a whole deadtime again
        this.deps.silent(w.host);
      });
    }
  }
}
