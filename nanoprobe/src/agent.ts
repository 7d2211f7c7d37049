/**
 * The nanoprobe agent.
 *
 * Join: after a random delay in [0, joinInterval] (a rack booting at once must not collide), it
 * announces itself — to the multicast group, or to a configured CMA address — and repeats until a
 * CMA answers with a SetNeighbours signed by the CMA key. The CMA's address is learnt from that
 * answer; nothing unsigned is ever obeyed.
 *
 * Steady state: heartbeats its neighbours (fire-and-forget) and tells the CMA only what changes
 * (late, dead, alive again, unexpected heartbeats). No traffic to the CMA otherwise.
 *
 * CMA trouble: a report the CMA does not acknowledge means the CMA is gone: keep heartbeating,
 * announce again until a CMA answers (with our neighbour list, so a restarted CMA can rebuild rings),
 * then send the reports still pending. A restarted CMA can also ask (Reannounce).
 *
 * What goes to the CMA besides announcements and command results (reports, alerts, discovery,
 * inventory, stats), and how it waits while no CMA can take it: outbox/cma-outbox.ts.
 *
 * Its own stalls (ring/local-stall.ts): silence inside them is not held against neighbours, the CMA
 * is told (a localStall alert) of those neighbours may have noticed, and after one long enough for
 * them to have reported us dead, we announce again so the CMA puts us back in the ring.
 *
 * SIGTERM: sends the samples since the last report as a final batch, then says goodbye so the CMA
 * repairs the ring at once (both within goodbyeTimeoutMs).
 */
import { EventEmitter } from "node:events";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { KeyObject } from "node:crypto";
import {
  CommandRefused, CommandVerifier, ConfigError, Endpoint, Keyring, PairKeys, checkPublicHostKeys, rawPublicKey, clusterOptions, decodeInbound, encodeEnvelope, keyFingerprint, loadOrCreateHostKeys, makeAnnounceProof, makeEnrollmentProof, previousKeyPath, readHostKeys,
} from "@ringwatch/shared";
import type {
  ChannelOptions, HostKeys, Command, CommandRefusal, Envelope, EndpointImpairment, InboundMessage, Logger, Neighbour, PeerAddress, Report, SignedCommand, StatsBatchSender,
} from "@ringwatch/shared";
import { analyticsThresholds, parseCmaAddresses, spread } from "./config.js";
import { KnownCmas } from "./known-cmas.js";
import type { NanoprobeConfig } from "./config.js";
import { NeighbourWatch } from "./ring/neighbour-watch.js";
import { HypervisorMonitor } from "./hypervisor/hypervisor-monitor.js";
import type { DiscoveryRunner } from "./discovery/runner.js";
import { shippedDiscoveryRunner } from "./discovery/shipped-runner.js";
import type { Verdict } from "./ring/neighbour-watch.js";
import { UnexpectedHeartbeats } from "./ring/unexpected-heartbeats.js";
import { LocalStallDetector, localStallAlert } from "./ring/local-stall.js";
import type { Stall } from "./ring/local-stall.js";
import { CmaOutbox } from "./outbox/cma-outbox.js";
import type { CmaOutboxCounters } from "./outbox/cma-outbox.js";
import { CmaRegistration } from "./outbox/cma-registration.js";
import { DomainActionError, executeDomainAction } from "./hypervisor/domain-actions.js";
import { loadGuestChecks } from "./health/guest-checks-file.js";
import { discoveredServices } from "./health/discovered-services.js";
import { readEnrollmentTokenFile } from "./enrollment-token-file.js";
import type { DomainActionFailure } from "./hypervisor/domain-actions.js";

export const NANOPROBE_VERSION = "0.2.0";

/** Joining, heartbeats and commands; what goes to the CMA counts its own (CmaOutboxCounters). */
export interface NanoprobeCounters extends CmaOutboxCounters {
  announcesSent: number;
  commandsAccepted: number;
  commandsRefused: number;
  /** signed DomainActions carried out, and those not carried out by reason */
  domainActionsDone: number;
  domainActionsFailed: Record<DomainActionFailure, number>;
  badMessages: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
  unexpectedHeartbeats: number;
  /** heartbeats from a neighbour with keys that were not sealed under them (forged or reflected): dropped */
  unsealedHeartbeats: number;
  probesAnswered: number;
}

export interface NanoprobeDeps {
  keyring: Keyring;
  /** this host's identity keys; default: read (or created on first start) from cfg.identityKeyFile */
  hostKeys?: HostKeys;
  /** with hostKeys: the key a rotation replaces, countersigning the announcements until the CMA admits the new one */
  previousHostKeys?: HostKeys;
  /** the CMA's command public key, or keys (current and next during a rotation): commands and its key block signed by any of them are accepted */
  cmaPublicKey: KeyObject | readonly KeyObject[];
  log: Logger;
  channel?: Partial<ChannelOptions>;
  impairment?: EndpointImpairment;
  /**
   * false: no heartbeats sent, no neighbour judged, no stall check: the simulator's hosts at
   * 100,000, whose ring traffic would never reach the CMA (the simulator injects their neighbours'
   * DEAD reports instead). Default true; a real nanoprobe always heartbeats.
   */
  heartbeats?: boolean;
}

export interface NanoprobeEvents {
  registered: [PeerAddress];
  neighbours: [Neighbour[]];
  commandRefused: [{ reason: CommandRefusal; detail: string }];
  report: [Report];
}

/** The host's identity keys from their file, created there on first start (logged with the fingerprint an admin compares), and the key a pending rotation replaces. */
function openHostKeys(path: string, log: Logger): { keys: HostKeys; previous?: HostKeys } {
  const { keys, created } = loadOrCreateHostKeys(path);
  const previous = existsSync(previousKeyPath(path)) ? readHostKeys(previousKeyPath(path)) : undefined;
  log.info({ identityKeyFile: path, fingerprint: keyFingerprint(keys.identityPublic), ...(previous ? { rotatedFrom: keyFingerprint(previous.identityPublic) } : {}) },
    created ? "host identity key created" : previous ? "host identity key loaded: rotation pending, announced countersigned by the previous key" : "host identity key loaded");
  return { keys, previous };
}

function machineId(): string {
  for (const p of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      return readFileSync(p, "utf8").trim();
    } catch {
      // try the next one
    }
  }
  return "";
}

/** Silence is judged more often than heartbeats are sent: a death is reported within this of deadtime. */
const CHECK_INTERVAL_MS = 250;
/** A CMA asking us to announce again spreads the answers over its delay, but cannot keep us silent longer than this. */
const MAX_REANNOUNCE_DELAY_MS = 60_000;
/** Timing from the CMA below what a configuration may set is ignored (the old value stays). */
const MIN_HEARTBEAT_MS = clusterOptions.heartbeatMs.min;
const MIN_WARNTIME_MS = clusterOptions.warntimeMs.min;
const MIN_DEADTIME_MS = clusterOptions.deadtimeMs.min;

export class Nanoprobe extends EventEmitter<NanoprobeEvents> {
  readonly counters: NanoprobeCounters = {
    announcesSent: 0, commandsAccepted: 0, commandsRefused: 0, domainActionsDone: 0, domainActionsFailed: { badAction: 0, noHypervisor: 0, unknownDomain: 0, libvirtError: 0 }, badMessages: 0, heartbeatsSent: 0, heartbeatsReceived: 0,
    unexpectedHeartbeats: 0, unsealedHeartbeats: 0, reportsSent: 0, reportsUnacknowledged: 0, probesAnswered: 0, inventoriesSent: 0, alertsSent: 0, statsBatchesSent: 0, statsBatchesUnacknowledged: 0, statsBatchesInvalid: 0,
  };
  /** this hypervisor's guests (when libvirtUri is set) */
  hypervisor: HypervisorMonitor | undefined;
  /** the discovery scripts (when discoveryDir is set) */
  discovery: DiscoveryRunner | undefined;
  /** everything that goes to the CMA besides announcements and command results */
  readonly outbox: CmaOutbox;
  readonly verifier: CommandVerifier;
  readonly watch: NeighbourWatch;
  /** our own stalls, seen by the check timer running late */
  readonly stalls: LocalStallDetector;
  /** the CMA we are registered with, as joining sets it */
  private readonly registration: CmaRegistration;
  /** where announcements go: the configured CMA addresses (several with CMAs in high availability: only the leader answers) or the multicast group, and the CMAs the leader listed */
  readonly cmas: KnownCmas;
  private tickTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private announceTimer: NodeJS.Timeout | undefined;
  private heartbeatCounter = 0;
  /** the next announcement waits this many join intervals (doubling while unanswered, up to joinBackoffMaxMs) */
  private announceBackoff = 1;
  private stopped = false;
  private paused = false;
  /** heartbeats and neighbour checks run (NanoprobeDeps.heartbeats) */
  private heartbeatsOn = true;
  private readonly unexpected = new UnexpectedHeartbeats();
  private readonly machineId = machineId();
  /** a pending rotation: the previous identity key (and its file) countersigns announcements until the CMA admits the new key */
  rotatingFrom: { keys: HostKeys; file: string | undefined } | undefined;
  /** proof of the enrollment token (enrollmentTokenFile), sent with every announcement: spent, and ignored, once the CMA has pinned this host */
  enrollmentProof: Buffer | undefined;
  /** neighbours whose keys the pair keys hold */
  private keyedNeighbours = new Set<string>();
  /** where each assigned neighbour speaks from ("address:port"): nobody else is heard as it */
  private neighbourAt = new Map<string, string>();

  /** where the CMA answered from; undefined until the first signed assignment */
  get cma(): PeerAddress | undefined {
    return this.registration.cma;
  }
  set cma(a: PeerAddress | undefined) {
    this.registration.cma = a;
  }
  get registered(): boolean {
    return this.registration.registered;
  }
  set registered(r: boolean) {
    this.registration.registered = r;
  }
  /** this host's stats batch stream to the CMA */
  get stats(): StatsBatchSender {
    return this.outbox.stats.stream;
  }

  private constructor(
    readonly endpoint: Endpoint,
    private readonly cfg: NanoprobeConfig,
    private readonly log: Logger,
    cmaPublicKeys: readonly KeyObject[],
    /** this host's identity: every announcement proves it holds it */
    readonly hostKeys: HostKeys,
    deps: { hostKeysGiven: boolean },
  ) {
    super();
    // in memory only for a host whose keys were handed in (simulated hosts: thousands of them in one process share no state file)
    const cmaFile = cfg.cmaAddressesFile && !deps.hostKeysGiven ? cfg.cmaAddressesFile : undefined;
    this.cmas = new KnownCmas(cfg.cma ? parseCmaAddresses(cfg.cma) : [{ address: cfg.multicastGroup, port: cfg.multicastPort }], cmaFile, log);
    this.cmas.load();
    this.watch = new NeighbourWatch({ heartbeatMs: cfg.heartbeatMs, warntimeMs: cfg.warntimeMs, deadtimeMs: cfg.deadtimeMs });
    this.stalls = new LocalStallDetector(Math.min(CHECK_INTERVAL_MS, cfg.heartbeatMs));
    this.registration = new CmaRegistration(endpoint, { lost: () => this.lostCma(), stopped: () => this.stopped });
    this.outbox = new CmaOutbox(this.registration, this.counters, log, { exact: cfg.statsExactAverages, retain: cfg.statsRetainBatches });
    // Reannounce is the one command that may be addressed to every host: it only asks for information
    this.verifier = new CommandVerifier(cmaPublicKeys, endpoint.identity, 30_000, 100_000, (c: Command) => c.reannounce !== undefined && c.setNeighbours === undefined);
    endpoint.on("message", (m) => this.onMessage(m));
    endpoint.on("peerRestart", ({ peer }) => {
      if (this.cma && peer.address === this.cma.address && peer.port === this.cma.port) {
        this.log.info("CMA restarted: announcing again");
        this.lostCma();
      }
    });
  }

  static async start(cfg: NanoprobeConfig, deps: NanoprobeDeps): Promise<Nanoprobe> {
    const guestChecks = cfg.guestChecksFile ? loadGuestChecks(cfg.guestChecksFile) : []; // a bad file stops the start (ConfigError) before anything opens
    if (guestChecks.some((c) => c.discovered) && (!cfg.discoveryDir || !cfg.libvirtUri || cfg.guestFlowsWindowMs === 0)) {
      throw new ConfigError(`guestChecksFile ${cfg.guestChecksFile}: "discovered" checks need the guest-flows discovery script, which runs only with discoveryDir and libvirtUri set and guestFlowsWindowMs above 0`);
    }
    const enrollmentToken = cfg.enrollmentTokenFile ? readEnrollmentTokenFile(cfg.enrollmentTokenFile) : undefined; // a bad file stops the start too
    const { keys: hostKeys, previous } = deps.hostKeys ? { keys: deps.hostKeys, previous: deps.previousHostKeys } : openHostKeys(cfg.identityKeyFile, deps.log);
    const iface = cfg.multicastInterface || (cfg.bindAddress !== "0.0.0.0" ? cfg.bindAddress : undefined);
    // frames to the CMA and the neighbours are sealed once their keys are known: the CMA's arrive
    // with its first frames, signed by its command key; the neighbours' in its signed SetNeighbours
    const cmaPublicKeys = Array.isArray(deps.cmaPublicKey) ? (deps.cmaPublicKey as readonly KeyObject[]) : [deps.cmaPublicKey as KeyObject];
    const pairKeys = new PairKeys(deps.keyring.clusterName, cfg.identity, hostKeys);
    pairKeys.trustSigners(cmaPublicKeys.map((k) => rawPublicKey(k)));
    const endpoint = await Endpoint.open({
      identity: cfg.identity, keyring: deps.keyring, bindAddress: cfg.bindAddress, port: cfg.port, log: deps.log, channel: deps.channel, pairKeys,
      impairment: deps.impairment, reuseAddr: true,
      multicast: cfg.cma ? undefined : { group: cfg.multicastGroup, interfaceAddress: iface, ttl: cfg.multicastTtl },
    });
    const np = new Nanoprobe(endpoint, cfg, deps.log, cmaPublicKeys, hostKeys, { hostKeysGiven: deps.hostKeys !== undefined });
    endpoint.acceptPeer = (sender, from, sealed) => np.expects(sender, from, sealed);
    np.rotatingFrom = previous ? { keys: previous, file: deps.hostKeys ? undefined : previousKeyPath(cfg.identityKeyFile) } : undefined;
    if (cfg.enrollmentTokenFile && !enrollmentToken) deps.log.warn({ enrollmentTokenFile: cfg.enrollmentTokenFile }, "enrollment token file missing: announcing without a token");
    if (enrollmentToken) {
      np.enrollmentProof = makeEnrollmentProof(enrollmentToken, { cluster: deps.keyring.clusterName, host: cfg.identity, identityPublic: hostKeys.identityPublic });
      deps.log.info({ enrollmentTokenFile: cfg.enrollmentTokenFile }, "enrollment token read: announcements carry its proof (not the token) until the CMA admits this host");
    }
    if (cfg.libvirtUri) {
      np.hypervisor = new HypervisorMonitor({ uri: cfg.libvirtUri, sampleMs: cfg.sampleMs, inventoryResendMs: cfg.inventoryResendMs, reportIntervalMs: cfg.reportIntervalMs, reconnectMs: cfg.libvirtReconnectMaxMs, reportSpread: spread(cfg), guestChecks }, deps.log, analyticsThresholds(cfg));
      np.outbox.watchHypervisor(np.hypervisor);
      void np.hypervisor.start(); // never fails: an unreachable libvirt is retried and alerted, the ring goes on
    }
    if (cfg.discoveryDir) {
      np.discovery = shippedDiscoveryRunner(cfg);
      np.outbox.watchDiscovery(np.discovery);
      // the services guest-flows saw the guests answer on: what "discovered" checks check
      const health = np.hypervisor?.health;
      if (health && guestChecks.some((c) => c.discovered)) {
        np.discovery.on("document", (e) => { if (e.document.discovertype === "guest-flows") health.setDiscovered(discoveredServices(e.document.data)); });
      }
      np.discovery.start();
    }
    np.scheduleAnnounce(Math.random() * cfg.joinIntervalMs);
    np.heartbeatsOn = deps.heartbeats !== false;
    if (np.heartbeatsOn) {
      np.tickTimer = setInterval(() => np.tick(), cfg.heartbeatMs);
      np.checkTimer = setInterval(() => np.check(), np.stalls.periodMs);
    }
    return np;
  }

  // ------------------------------------------------------------------ join

  private scheduleAnnounce(delayMs: number): void {
    if (this.stopped) return;
    if (this.announceTimer) clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(() => this.announce(), delayMs);
  }

  /** Announce and schedule the next one; stops once a signed assignment arrives. */
  private announce(): void {
    if (this.stopped || this.registered) return;
    if (!this.paused) {
      const a = this.endpoint.address();
      const env: Envelope = {
        announce: {
          host: { name: this.endpoint.identity, machineId: this.machineId, addresses: [a.address] },
          version: NANOPROBE_VERSION, startedAtMs: this.endpoint.session.startMs, port: a.port, neighbours: this.watch.neighbours,
          proof: makeAnnounceProof({ cluster: this.endpoint.keyring.clusterName, host: this.endpoint.identity, session: this.endpoint.session }, this.hostKeys, this.rotatingFrom?.keys),
          ...(this.enrollmentProof ? { enrollmentProof: this.enrollmentProof } : {}),
        },
      };
      // a CMA that answered before is asked directly, and the group (or configured addresses) and the
      // CMAs the leader listed too: it may have moved, or another CMA may lead now.
      // unsealed: a CMA that restarted (a new exchange key) must be able to read it; the proof in it is signed
      const body = encodeEnvelope(env);
      const to = this.cmas.announceTargets(this.cma);
      for (const a of to) this.endpoint.sendDatagram(a, body, { unsealed: true });
      this.counters.announcesSent++;
      this.log.debug({ to: to.map((a) => `${a.address}:${a.port}`), neighbours: this.watch.neighbours.length }, "announce");
    }
    const intervalMs = Math.min(this.cfg.joinIntervalMs * this.announceBackoff, Math.max(this.cfg.joinIntervalMs, this.cfg.joinBackoffMaxMs));
    this.announceBackoff = Math.min(this.announceBackoff * 2, 1 << 20);
    this.scheduleAnnounce(intervalMs * (0.5 + Math.random()));
  }

  /**
   * No state before proof: a new sender session is heard only if it is someone this host expects
   * there: a neighbour at the address the CMA assigned it, the CMA at the address it commands from or
   * the one we announce to, or anyone whose frame opened under a key the CMA's command key signed
   * (the CMA, wherever it moved; while joining through a group, its address is not known yet).
   * Copied frames from other sessions, replayed from anywhere else, get no state and no reply.
   */
  private expects(sender: string, from: PeerAddress, sealed: boolean): boolean {
    const at = `${from.address}:${from.port}`;
    if (this.neighbourAt.get(sender) === at) return true;
    if (this.cma && this.cma.address === from.address && this.cma.port === from.port) return true;
    if (this.cmas.knows(from)) return true;
    return sealed && this.endpoint.pairKeys!.vouchedBySigner(sender);
  }

  /** The CMA stopped answering or restarted: announce until one answers. */
  private lostCma(): void {
    if (this.stopped) return;
    this.registered = false;
    this.announceBackoff = 1;
    this.scheduleAnnounce(Math.random() * this.cfg.joinIntervalMs);
  }

  // ------------------------------------------------------------------ steady state

  private tick(): void {
    if (this.stopped || this.paused) return;
    const now = Date.now();
    const neighbours = this.watch.neighbours;
    if (neighbours.length > 0) {
      const body = encodeEnvelope({ heartbeat: { sentAtMs: now, counter: ++this.heartbeatCounter } });
      for (const n of neighbours) {
        this.endpoint.sendDatagram({ address: n.address, port: n.port }, body);
        this.counters.heartbeatsSent++;
      }
    }
  }

  private check(): void {
    if (this.stopped || this.paused) return;
    const now = performance.now(); // silence is measured on a clock no one can step
    // this timer is also the stall detector: a stall is seen before any silence is judged after it
    const stall = this.stalls.tick(now, this.watch.timing.heartbeatMs);
    if (stall) this.stalled(stall);
    for (const v of this.watch.check(now)) this.report(verdictReport(v));
  }

  /**
   * We were not running for a while (a simulator pause counts: it freezes the host). Silence in it is
   * excused; the CMA is told once neighbours may have reported us late (stall plus the heartbeat
   * period before it past warntime), and we announce again once they may have reported us dead (the
   * CMA may have repaired the ring without us).
   */
  private stalled(s: Stall): void {
    const excused = this.watch.excuse(s.fromMs, s.toMs);
    const { heartbeatMs, warntimeMs, deadtimeMs } = this.watch.timing;
    const tell = s.stallMs + heartbeatMs >= warntimeMs;
    const reannounce = s.stallMs + heartbeatMs >= deadtimeMs;
    this.log.warn({ stallMs: Math.round(s.stallMs), neighboursExcused: excused, toldCma: tell, reannounce, ...this.stalls.counters }, "this process was stalled: silence during it is not held against neighbours");
    if (tell) this.outbox.alert(localStallAlert(s, this.stalls.counters, excused, Date.now()));
    if (reannounce) this.lostCma();
  }

  private report(r: Report): void {
    this.emit("report", r);
    this.log.info({ kind: r.kind, subject: r.subject, silentMs: r.silentMs }, "reporting to the CMA");
    this.outbox.report(r);
  }

  private onMessage(m: InboundMessage): void {
    if (this.paused) return;
    const env = decodeInbound(m, this.log);
    if (!env) {
      this.counters.badMessages++;
      return;
    }
    if (env.heartbeat && !m.reliable) return this.onHeartbeat(m);
    if (env.command && m.reliable) return this.onCommand(m, env.command);
    if (env.probe && !m.reliable) {
      this.counters.probesAnswered++;
      this.endpoint.sendDatagram(m.from, encodeEnvelope({ probeReply: { nonce: env.probe.nonce } }));
      return;
    }
    this.counters.badMessages++;
    this.log.debug({ from: m.from.id, body: env.body, reliable: m.reliable }, "unexpected message dropped");
  }

  private onHeartbeat(m: InboundMessage): void {
    if (!m.sealed && this.endpoint.pairKeys?.knows(m.from.id)) {
      // a neighbour with keys seals its heartbeats: this one is forged or reflected by another cluster member
      this.counters.unsealedHeartbeats++;
      return;
    }
    this.counters.heartbeatsReceived++;
    const now = performance.now();
    if (this.watch.isWatched(m.from.id)) {
      const v = this.watch.heard(m.from.id, now);
      if (v) this.report(verdictReport(v));
      return;
    }
    this.counters.unexpectedHeartbeats++;
    if (!this.unexpected.heard(`${m.from.id}@${m.from.address}:${m.from.port}`, now, this.watch.timing.warntimeMs)) return;
    this.report({ kind: "UNEXPECTED", subject: m.from.id, subjectAddress: `${m.from.address}:${m.from.port}`, silentMs: 0 });
  }

  private onCommand(m: InboundMessage, sc: SignedCommand): void {
    let id = "";
    try {
      const cmd = this.verifier.verify(sc);
      id = cmd.id;
      if (cmd.setNeighbours) {
        this.cma = { address: m.from.address, port: m.from.port };
        this.applyNeighbours(cmd.setNeighbours.neighbours, cmd.setNeighbours);
        this.cmas.learn(cmd.setNeighbours.cmas ?? []);
        this.announceBackoff = 1;
        if (!this.registered) {
          this.registered = true;
          if (this.announceTimer) clearTimeout(this.announceTimer);
          this.log.info({ cma: `${this.cma.address}:${this.cma.port}` }, "registered with the CMA");
          this.finishRotation();
          this.emit("registered", this.cma);
          this.outbox.welcome();
        }
        this.outbox.flush();
      } else if (cmd.domainAction) {
        this.counters.commandsAccepted++;
        void this.actOnDomain(m, id, cmd.domainAction);
        return; // answered when libvirt is done
      } else if (cmd.statsResend) {
        this.outbox.stats.resend(cmd.statsResend.stream, cmd.statsResend.fromSeq);
      } else if (cmd.reannounce) {
        this.cma = { address: m.from.address, port: m.from.port };
        this.registered = false;
        this.announceBackoff = 1;
        this.scheduleAnnounce(Math.random() * Math.min(cmd.reannounce.maxDelayMs, MAX_REANNOUNCE_DELAY_MS));
        this.log.info({ cma: `${this.cma.address}:${this.cma.port}` }, "CMA asked us to announce again");
      } else {
        throw new CommandRefused("malformed", "no action");
      }
      this.counters.commandsAccepted++;
      this.reply(m, { id, ok: true, error: "" });
    } catch (e) {
      if (!(e instanceof CommandRefused)) throw e;
      this.counters.commandsRefused++;
      this.log.warn({ from: `${m.from.id} ${m.from.address}:${m.from.port}`, reason: e.reason }, e.message);
      this.emit("commandRefused", { reason: e.reason, detail: e.message });
      this.reply(m, { id, ok: false, error: e.message });
    }
  }

  /** a verified DomainAction: carried out here, its result (the domain's state after it, or why not) sent back */
  private async actOnDomain(m: InboundMessage, id: string, a: { uuid: string; action: string }): Promise<void> {
    try {
      const { state, via, agentError } = await executeDomainAction(this.hypervisor, a);
      this.counters.domainActionsDone++;
      this.log.info({ id, uuid: a.uuid, action: a.action, state, via, agentError }, "domain action done");
      this.reply(m, { id, ok: true, error: "", domainState: state, ...(via ? { rebootMethod: via } : {}), ...(agentError ? { agentError } : {}) });
    } catch (e) {
      const reason = e instanceof DomainActionError ? e.reason : "libvirtError";
      this.counters.domainActionsFailed[reason]++;
      this.log.warn({ id, uuid: a.uuid, action: a.action, reason }, (e as Error).message);
      this.reply(m, { id, ok: false, error: (e as Error).message });
    }
  }

  private reply(m: InboundMessage, r: { id: string; ok: boolean; error: string; domainState?: string; rebootMethod?: string; agentError?: string }): void {
    this.endpoint.send(m.from, encodeEnvelope({ commandResult: r })).catch((e: Error) => this.log.debug({ err: e.message }, "command result not acknowledged"));
  }

  private applyNeighbours(list: Neighbour[], timing: { heartbeatMs: number; warntimeMs?: number; deadtimeMs?: number }): void {
    for (const n of list) {
      if (!n.name || !n.address || !(n.port > 0 && n.port < 65536)) throw new CommandRefused("malformed", `bad neighbour ${n.name}@${n.address}:${n.port}`);
      if (n.keys) {
        try {
          checkPublicHostKeys({ identityPublic: n.keys.identityKey, exchangePublic: n.keys.exchangeKey, exchangeSignature: n.keys.exchangeSignature }, true); // the CMA's signature vouches for them
        } catch (e) {
          throw new CommandRefused("malformed", `neighbour ${n.name}: ${(e as Error).message}`);
        }
      }
    }
    this.trustNeighbours(list);
    const t = this.watch.timing;
    const next = {
      heartbeatMs: timing.heartbeatMs >= MIN_HEARTBEAT_MS ? timing.heartbeatMs : t.heartbeatMs,
      warntimeMs: timing.warntimeMs && timing.warntimeMs >= MIN_WARNTIME_MS ? timing.warntimeMs : t.warntimeMs,
      deadtimeMs: timing.deadtimeMs && timing.deadtimeMs >= MIN_DEADTIME_MS ? timing.deadtimeMs : t.deadtimeMs,
    };
    if (next.heartbeatMs !== t.heartbeatMs && this.heartbeatsOn) {
      if (this.tickTimer) clearInterval(this.tickTimer);
      this.tickTimer = setInterval(() => this.tick(), next.heartbeatMs);
    }
    this.watch.timing = next;
    this.watch.assign(list, performance.now());
    this.log.info({ neighbours: list.map((n) => n.name), ...next }, "neighbours assigned by the CMA");
    this.emit("neighbours", list);
  }

  /**
   * The CMA's command keys from now on (cmaPublicKeyFile reloaded): commands and key blocks signed by
   * these are accepted, and only these; a CMA known by a key taken out must show one of these again.
   */
  acceptCmaKeys(keys: readonly KeyObject[]): void {
    this.verifier.setPublicKeys(keys); // first: it refuses an empty or wrong list before anything changed
    this.endpoint.pairKeys!.trustSigners(keys.map((k) => rawPublicKey(k)));
  }

  /** Admitted under the new key (the CMA re-pinned it): the previous key is no longer needed, and goes. */
  private finishRotation(): void {
    const r = this.rotatingFrom;
    if (!r) return;
    this.rotatingFrom = undefined;
    try {
      if (r.file) rmSync(r.file, { force: true });
      this.log.info({ fingerprint: keyFingerprint(this.hostKeys.identityPublic), previous: keyFingerprint(r.keys.identityPublic) }, "host key rotation complete: the previous key is deleted");
    } catch (e) {
      this.log.error({ file: r.file, err: (e as Error).message }, "host key rotation complete, but the previous key could not be deleted");
    }
  }

  /** The neighbours' keys: heartbeats to them are sealed, and theirs must be. Former neighbours' keys are dropped. */
  private trustNeighbours(list: Neighbour[]): void {
    const pk = this.endpoint.pairKeys!;
    const now = new Set<string>();
    for (const n of list) {
      if (!n.keys) continue; // a host without keys (a rolling upgrade): its heartbeats stay on the cluster key
      pk.trust(n.name, { identityPublic: Buffer.from(n.keys.identityKey), exchangePublic: Buffer.from(n.keys.exchangeKey), exchangeSignature: Buffer.from(n.keys.exchangeSignature) }, true);
      this.endpoint.expect({ address: n.address, port: n.port }, n.name);
      now.add(n.name);
    }
    this.neighbourAt = new Map(list.map((n) => [n.name, `${n.address}:${n.port}`]));
    for (const name of this.keyedNeighbours) if (!now.has(name)) pk.forget(name);
    this.keyedNeighbours = now;
  }

  status(): Record<string, unknown> {
    return {
      registered: this.registered,
      cma: this.cma ? `${this.cma.address}:${this.cma.port}` : null,
      cmasListed: this.cmas.learnedList, // every CMA of the cluster, as the leader listed them (high availability)
      cmaList: this.cmas.counters,
      neighbours: this.watch.status(performance.now()),
      stalls: this.stalls.counters,
      counters: this.counters,
      commandsRefusedBy: this.verifier.refused,
      channel: this.endpoint.counters,
      stats: { stream: this.stats.stream, pending: this.stats.pending, ...this.stats.counters, retained: this.stats.retainedSizes() },
      outbox: this.outbox.status(),
      memory: memoryMiB(),
      hypervisor: this.hypervisor ? { connected: this.hypervisor.connected, domains: this.hypervisor.tracker?.size ?? 0, sampler: this.hypervisor.sampler.stats, ...this.hypervisor.counters,
        retained: { sampler: this.hypervisor.sampler.retainedSizes(), analytics: this.hypervisor.analytics.retainedSizes() },
        // guest checks running (by guest, by tag, of discovered services) and what they found
        guestHealth: { checks: this.hypervisor.health.checkCount(), ...this.hypervisor.health.counters } } : null,
      discovery: this.discovery?.status() ?? null, // per script: runs, errors, CPU ms (last, max, total)
    };
  }

  // ------------------------------------------------------------------ simulator controls

  /** Stop sending and ignore what arrives, keeping all state (a frozen host). */
  pause(): void {
    this.paused = true;
    this.endpoint.impairment = { ...this.endpoint.impairment, incoming: () => true, outgoing: () => true };
  }

  resume(impairment?: EndpointImpairment): void {
    this.paused = false;
    this.endpoint.impairment = impairment;
  }

  // ------------------------------------------------------------------ stopping

  /** Leave on purpose: tell the CMA (bounded wait), then close. */
  async stop(goodbye = true): Promise<void> {
    if (this.stopped) return;
    if (goodbye && this.cma && this.registered) {
      const lastStats = this.outbox.lastStats(); // ahead of the goodbye on the same in-order channel
      const sent = this.endpoint.send(this.cma, encodeEnvelope({ goodbye: { reason: "shutdown" } }));
      const timeout = new Promise<void>((r) => setTimeout(r, this.cfg.goodbyeTimeoutMs).unref());
      await Promise.race([Promise.all([lastStats, sent]).then(() => this.log.info("goodbye acknowledged by the CMA"), () => undefined), timeout]);
    }
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    await this.hypervisor?.stop();
    this.discovery?.stop();
    if (this.announceTimer) clearTimeout(this.announceTimer);
    await this.endpoint.close();
  }

  /** Die without a word (the simulator's SIGKILL). */
  async kill(): Promise<void> {
    await this.stop(false);
  }
}

/** This process's memory, in MiB to 0.1: what the soak benchmark and an operator watch for growth. */
function memoryMiB(): { rssMiB: number; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number } {
  const m = process.memoryUsage();
  const mib = (b: number): number => Math.round(b / 104857.6) / 10;
  return { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external) };
}

function verdictReport(v: Verdict): Report {
  return { kind: v.kind, subject: v.neighbour.name, subjectAddress: `${v.neighbour.address}:${v.neighbour.port}`, silentMs: v.silentMs };
}
