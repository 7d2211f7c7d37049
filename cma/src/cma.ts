/**
 * The CMA process: one endpoint (unicast + the multicast group), each message decoded once and
 * handed to the service it concerns: rings (membership) or the guest inventory. The HTTP API and
 * web UI read from those services (when httpListen is set). With zabbixServer
 * set, values go to Zabbix through the durable sender; with zabbixApiUrl too, the configuration
 * sync and the bridge feed it (cma/src/zabbix). What the stores learn is fed to the topology graph
 * (`graph`, unless graphStore is "none"). Every state-changing request is recorded in the audit log
 * (`audit`, <dataDir>/audit), opened first and closed last.
 */
import { EventEmitter } from "node:events";
import type { KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

import { join } from "node:path";
import { ConfigError, Endpoint, PairKeys, decodeInbound, encodeEnvelope, hostKeysOf } from "@ringwatch/shared";
import type { InboundMessage, Keyring, Logger } from "@ringwatch/shared";
import type { CmaConfig } from "./config.js";
import { AlertStore } from "./intake/alert-store.js";
import { DiscoveryStore } from "./intake/discovery-store.js";
import { StatsStore } from "./intake/stats-store.js";
import { InventoryStore } from "./intake/inventory-store.js";
import { RingService } from "./membership/ring-service.js";
import type { Leadership } from "./membership/ring-service.js";
import { DurableSender, durableSenderOptions } from "./zabbix/sender/durable-sender.js";
import { HttpServer } from "./http/server.js";
import type { ApiSources } from "./http/server.js";
import { parseListenAddress } from "./http/listen-address.js";
import { ZabbixService, actionOptions } from "./zabbix/zabbix-service.js";
import type { GraphStore } from "./graph/graph-store.js";
import { GraphIngestor } from "./graph/graph-ingestor.js";
import { openGraphStore } from "./graph/open-store.js";
import { namedQueries } from "./graph/named-queries.js";
import { MonitoringErrors } from "./monitoring-errors/monitoring-errors.js";
import { watchAlerts, watchGraph, watchRemovals, watchSender, watchStats } from "./monitoring-errors/watchers.js";
import type { StopWatching } from "./monitoring-errors/watchers.js";
import { ControlServer } from "./control/control-server.js";
import { AccessStore } from "./access/access-store.js";
import { bootstrapAdmin } from "./access/bootstrap.js";
import { loadTls } from "./http/tls-files.js";
import { controlSocketPath } from "./control/control-protocol.js";
import { AuditLog } from "./audit/audit-log.js";
import { PinStore } from "./identity/pin-store.js";
import { EnrollmentStore } from "./identity/enrollment-store.js";
import { HostAdmission } from "./identity/host-admission.js";
import { UnansweredChallenges } from "./identity/unanswered-challenges.js";
import { readEnrolledKeys } from "./identity/enrolled-keys.js";
import type { EnrolledKeys } from "./identity/enrolled-keys.js";
import type { HostKeyPolicy } from "./identity/admission-policy.js";
import { watchHostKeys } from "./monitoring-errors/watchers.js";

/** The audit log under dataDir; without one, in a temporary directory (warned, left in place: an audit log is never deleted by the CMA). */
function openAuditLog(cfg: CmaConfig, log: Logger): AuditLog {
  let dir = cfg.dataDir ? join(cfg.dataDir, "audit") : "";
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), "ringwatch-audit-"));
    log.warn({ dir }, "no dataDir: the audit log is kept in a temporary directory");
  }
  try {
    return AuditLog.open(dir, { retentionDays: cfg.auditRetentionDays }, log.child({ component: "audit" }));
  } catch (e) {
    throw new ConfigError(`audit log: cannot open ${dir}: ${(e as Error).message}`);
  }
}

import { HistoryStore } from "./history/history-store.js";
import { HistoryRollupRetention } from "./history/rollup-retention.js";
import { AlertEventLog } from "./history/alert-events.js";
import { DomainActions } from "./actions/domain-actions.js";
import { ServiceToken } from "./access/service-token.js";
import { Ladders } from "./actions/ladder.js";
import type { LadderLevelEvent } from "./actions/ladder.js";
import { loadLadderPolicy } from "./actions/ladder-policy.js";
import type { LadderPolicy } from "./actions/ladder-policy.js";
import { LadderStore } from "./actions/ladder-store.js";
import { LadderWebhooks } from "./actions/ladder-webhooks.js";
import { historyBatch } from "./history/from-stats.js";

export class Cma {
  /** badMessages: undecodable or unexpected; unsealedMessages: from a host whose keys are known, not sealed under them (someone else holding the cluster key) */
  readonly counters = { badMessages: 0, unsealedMessages: 0 };
  /** values to Zabbix (spooled, batched, replayed) when zabbixServer is set */
  zabbixSender: DurableSender | undefined;
  /** the HTTP API and web UI; undefined when httpListen is empty or "off" */
  http: HttpServer | undefined;
  /** configuration sync and the bridge from membership, inventory, stats and alerts to the sender */
  zabbix: ZabbixService | undefined;
  /** what stops ringwatch from seeing (libvirt unreachable, discovery failing, stats refused, sender drops, graph writes failing) */
  readonly monitoringErrors: MonitoringErrors;
  private readonly unansweredChallenges: UnansweredChallenges;
  private readonly stopWatching: StopWatching[] = [];
  /** the operator's commands (maintenance, removal) on a Unix socket; undefined when controlSocket is "off" */
  control: ControlServer | undefined;
  /** the metric history (every accepted stats batch) and its retention job; undefined when historyStore is "none" */
  history: { store: HistoryStore; alertEvents: AlertEventLog; retention: HistoryRollupRetention; fullDays: number; hourlyDays: number; maxPoints: number } | undefined;

  /** actions on guests through their hypervisors' nanoprobes (POST /api/domains/:uuid/actions) */
  readonly domainActions: DomainActions;
  /** the escalation ladders (actionPolicyFile); undefined without a policy */
  ladders: Ladders | undefined;
  /** with CMAs in high availability: the election's and the state mirror's status (ha/ha-runner.ts) */
  haStatus: (() => Record<string, unknown>) | undefined;

  private constructor(
    readonly endpoint: Endpoint,
    readonly rings: RingService,
    readonly inventory: InventoryStore,
    readonly alerts: AlertStore,
    readonly discovery: DiscoveryStore,
    readonly stats: StatsStore,
    private readonly log: Logger,
    /** who did what: every state-changing request (record it before reporting success) */
    readonly audit: AuditLog,
    /** the topology graph (read it with graph.read; the ingestor writes it); undefined when graphStore is "none" */
    readonly graph?: GraphStore,
    readonly graphIngestor?: GraphIngestor,
  ) {
    endpoint.on("message", (m) => this.dispatch(m));
    this.unansweredChallenges = new UnansweredChallenges(log);
    endpoint.on("challenged", (c) => this.unansweredChallenges.challenged(c.sender, c.from));
    endpoint.on("proven", (c) => this.unansweredChallenges.proven(c.sender, c.from));
    this.monitoringErrors = new MonitoringErrors(log);
    this.domainActions = new DomainActions({ inventory, membership: rings.membership, send: (to, draft) => rings.sendCommand(to, draft), log: log.child({ component: "actions" }) });
    this.stopWatching.push(watchAlerts(this.monitoringErrors, alerts), watchStats(this.monitoringErrors, stats, rings.membership), watchRemovals(this.monitoringErrors, rings.membership));
    if (graphIngestor) this.stopWatching.push(watchGraph(this.monitoringErrors, graphIngestor.writes, endpoint.identity));
    inventory.on("event", (e) => log.info({ ...e }, "inventory event"));
    alerts.on("event", (e) => log.info({ host: e.host, change: e.change, ...e.alert }, "alert event"));
    discovery.on("event", (e) => log.info({ host: e.host, script: e.script, discovertype: e.document.discovertype }, "discovery event"));
    rings.membership.on("event", (e) => {
      if (e.type === "hostLeft" || e.type === "hostDead" || e.type === "hostRemoved") stats.forget(e.host);
      if (e.type === "hostRemoved") for (const store of [inventory, alerts, discovery]) store.forget(e.host); // out of the active views
    });
  }

  /** users and API tokens (<dataDir>/access.json); undefined without the HTTP API */
  access: AccessStore | undefined;
  /** admission by host key and the pins (<dataDir>/host-keys.json); set right after construction */
  admission!: HostAdmission;

  /**
   * `leadership`: with CMAs in high availability (ha/), the epoch this CMA leads in and whether it
   * still does; every command carries the epoch and none is signed once it no longer leads.
   */
  static async start(cfg: CmaConfig, deps: { keyring: Keyring; commandKey: KeyObject; log: Logger; leadership?: Leadership }): Promise<Cma> {
    const httpListen = parseListenAddress(cfg.httpListen); // a bad address fails before anything opens
    const policy = openLadderPolicy(cfg); // so does a bad ladder policy, or a damaged ladder state
    const hostKeys = openHostKeys(cfg); // and damaged pins, or a bad hostKeysFile
    if (!cfg.dataDir) deps.log.warn("no dataDir: host key pins are kept in memory only (a restart trusts every key anew)");
    checkZabbixAction(cfg, policy);
    const ladderStore = policy ? new LadderStore(cfg.dataDir) : undefined;
    ladderStore?.load();
    // made before the ladders, which start last: the Zabbix bridge listens from its start
    const ladderLevels = new EventEmitter<{ level: [LadderLevelEvent] }>();
    // so do a damaged access file and unreadable TLS files
    const tls = httpListen ? loadTls(cfg.httpsCert, cfg.httpsKey) : undefined;
    const access = httpListen ? Cma.openAccess(cfg, deps.log) : undefined;
    const audit = openAuditLog(cfg, deps.log); // an unwritable data directory too
    // the first start makes the first admin, once the audit log is open to record it
    if (access) await Cma.bootstrapAdmin(access, cfg, audit, deps.log).catch((e: unknown) => {
      audit.close();
      throw e;
    });
    // the CMA's identity is its command key (every nanoprobe has it); its exchange key is new every start
    const pairKeys = new PairKeys(deps.keyring.clusterName, cfg.identity, hostKeysOf(deps.commandKey));
    const endpoint = await Endpoint.open({
      identity: cfg.identity, keyring: deps.keyring, bindAddress: cfg.bindAddress, port: cfg.port, log: deps.log, reuseAddr: true, pairKeys,
      // a host's new session proves it receives at its address before anything is kept or sent for it;
      // nanoprobes older than host keys cannot answer a challenge, so not while they may still join
      challengeNewPeers: !cfg.allowHostsWithoutKeys,
      multicast: cfg.multicastGroup ? { group: cfg.multicastGroup, interfaceAddress: cfg.multicastInterface || undefined, join: true, ttl: 1 } : undefined,
    }).catch((e: unknown) => {
      audit.close();
      throw e;
    });
    const admission = new HostAdmission({
      store: hostKeys.pins, enrollments: hostKeys.enrollments, settings: { policy: hostKeys.policy, enrolled: hostKeys.enrolled, allowHostsWithoutKeys: cfg.allowHostsWithoutKeys },
      cluster: endpoint.keyring.clusterName, maxSkewMs: endpoint.opts.maxClockSkewMs, audit, log: deps.log.child({ component: "admission" }),
    });
    const rings = new RingService(endpoint, deps.commandKey, {
      heartbeatMs: cfg.heartbeatMs, warntimeMs: cfg.warntimeMs, deadtimeMs: cfg.deadtimeMs, ringsPerSegment: cfg.ringsPerSegment === 2 ? 2 : 1,
      segmentPrefixLength: cfg.segmentPrefixLength, probeAttempts: cfg.probeAttempts, probeIntervalMs: cfg.probeIntervalMs,
      reannounceGraceMs: cfg.reannounceGraceMs, segmentRecheckMs: cfg.segmentRecheckMs, dataDir: cfg.dataDir || undefined,
      multicast: cfg.multicastGroup ? { address: cfg.multicastGroup, port: cfg.port } : undefined,
      leadership: deps.leadership,
      // an admitted host's pinned keys are its pair keys: what the CMA sends it is sealed, and what it sends must be
      admit: (m, a) => {
        if (!admission.admit(m, a)) return false;
        const keys = admission.keysOf(m.from.id);
        if (keys) pairKeys.trust(m.from.id, keys);
        return true;
      },
    }, deps.log, false);
    let zabbixService: () => ZabbixService | undefined = () => undefined;
    const stats = new StatsStore(deps.log, {
      dataDir: cfg.dataDir || undefined,
      // with Zabbix, the positions Zabbix confirmed are kept too: what a new leader starts from (ha/)
      ...(cfg.zabbixServer ? { undeliveredSince: () => zabbixService()?.oldestUndeliveredAt() } : {}),
      // signed like every command: it makes a host send data again
      requestResend: (host, stream, fromSeq) => {
        const h = rings.membership.get(host);
        if (!h) return;
        const command = rings.sign({ target: host, statsResend: { stream, fromSeq } });
        if (!command) return;
        endpoint.send({ address: h.address, port: h.port }, encodeEnvelope({ command })).catch((e: Error) => deps.log.debug({ host, err: e.message }, "stats resend request not acknowledged"));
      },
    });
    const inventory = new InventoryStore(deps.log), alerts = new AlertStore(deps.log), discovery = new DiscoveryStore(deps.log);
    let graph: GraphStore | undefined, ingestor: GraphIngestor | undefined;
    try {
      graph = openGraphStore(cfg, process.env, deps.log);
      await graph?.init();
    } catch (e) {
      rings.stop();
      await endpoint.close();
      await graph?.close().catch(() => undefined);
      audit.close();
      throw e;
    }
    if (graph) {
      ingestor = new GraphIngestor(graph, { membership: rings.membership, inventory, alerts, discovery, audit: audit.entries }, {
        flushMs: cfg.graphFlushMs, maxItems: cfg.graphFlushItems, maxRows: cfg.graphStatementRows, retryMaxMs: cfg.graphRetryMaxMs,
      }, deps.log);
      ingestor.start();
    }
    const cma = new Cma(endpoint, rings, inventory, alerts, discovery, stats, deps.log, audit, graph, ingestor);
    zabbixService = () => cma.zabbix;
    cma.access = access;
    cma.admission = admission;
    admission.on("mismatch", (e) => rings.record({ type: "hostKeyMismatch", host: e.host, address: e.from, presented: e.presented, pinned: e.pinned }));
    admission.on("pinChange", (e) => {
      if (e.change === "revoked") rings.revoke(e.host, e.by);
      if (e.change === "revoked" || e.change === "forgotten") pairKeys.forget(e.host);
    });
    // pins in force from the last run: a restarted CMA seals to its hosts at once (they learn its new exchange key from the first frame)
    for (const p of hostKeys.pins.all()) {
      const keys = p.state === "pinned" ? admission.keysOf(p.name) : undefined;
      if (keys) pairKeys.trust(p.name, keys);
    }
    cma.stopWatching.push(watchHostKeys(cma.monitoringErrors, admission, cfg.hostKeyAlertClearMs));
    if (cfg.zabbixApiUrl && !cfg.zabbixServer) {
      await endpoint.close();
      audit.close();
      throw new ConfigError('zabbixApiUrl is set but zabbixServer is not: values reach Zabbix through the sender (set zabbixServer to "host:port")');
    }
    if (cfg.zabbixScriptsCmaUrl && (!cfg.zabbixApiUrl || !access || !cfg.dataDir)) {
      await endpoint.close();
      audit.close();
      throw new ConfigError("zabbixScriptsCmaUrl needs zabbixApiUrl (to create the scripts), httpListen (the API they call) and dataDir (their token)");
    }
    if (cfg.zabbixScriptsCmaUrl && !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(cfg.zabbixScriptsCmaUrl)) {
      await endpoint.close();
      audit.close();
      throw new ConfigError(`zabbixScriptsCmaUrl: expected the CMA's HTTP API URL as Zabbix reaches it (http://host:port), got ${JSON.stringify(cfg.zabbixScriptsCmaUrl)}`);
    }
    const scriptsToken = cfg.zabbixScriptsCmaUrl && access ? new ServiceToken(access, cfg.dataDir, "zabbix-scripts", "operator", deps.log.child({ component: "zabbix-scripts" }), (id) => {
      audit.record({ actor: "system", via: "startup", from: "local", action: "tokenCreate", target: id, outcome: "ok", detail: { name: "zabbix-scripts", role: "operator", for: "the Zabbix global scripts" } });
    }) : undefined;
    const zo = durableSenderOptions(cfg, (pairs) => cma.zabbix?.unknown(pairs));
    if (zo) {
      cma.zabbixSender = DurableSender.start(zo, deps.log);
      cma.stopWatching.push(watchSender(cma.monitoringErrors, cma.zabbixSender, cfg.identity, cfg.senderDropClearMs));
      try {
        cma.zabbix = new ZabbixService(cfg, { membership: rings.membership, inventory: cma.inventory, stats, alerts: cma.alerts, monitoringErrors: cma.monitoringErrors, ladderLevels, auditEntries: audit.entries }, cma.zabbixSender, deps.log, scriptsToken && (() => scriptsToken.secret()));
      } catch (e) {
        await cma.zabbixSender.stop();
        await endpoint.close();
        audit.close();
        throw e;
      }
      cma.zabbix.start();
    }
    // after the parts that may refuse to start without closing it; no batch can arrive before (no await since new Cma)
    try {
      cma.history = openHistory(cfg, deps.log);
    } catch (e) {
      await cma.stop();
      throw e;
    }
    if (cma.history) {
      const { store, alertEvents } = cma.history;
      stats.on("event", (e) => store.write(historyBatch(e))); // never throws: failures are counted and retried
      cma.alerts.on("event", (e) => alertEvents.add({ host: e.host, subject: e.alert.subject, subjectName: e.alert.subjectName, kind: e.alert.kind, change: e.change, t: e.alert.atMs }));
      cma.history.retention.start();
    }
    if (policy && ladderStore) {
      cma.ladders = new Ladders({ policy, store: ladderStore, events: ladderLevels, alerts: cma.alerts, membership: rings.membership, actions: cma.domainActions, audit: cma.audit, webhooks: new LadderWebhooks(policy.webhooks, deps.log.child({ component: "ladder" })), log: deps.log.child({ component: "ladder" }), tickMs: cfg.ladderTickMs, persist: deps.leadership?.persist,
        tagsOf: (host, uuid) => cma.inventory.domains(host).find((d) => d.uuid.toLowerCase() === uuid)?.tags ?? [] });
    }
    rings.start();
    // a key revoked while a snapshot said otherwise (or before it was saved): out of the rings all the same
    for (const p of hostKeys.pins.all()) if (p.state === "revoked") rings.revoke(p.name, p.revokedBy ?? "?");
    const controlPath = controlSocketPath(cfg);
    if (controlPath) {
      try {
        cma.control = await ControlServer.start(controlPath, rings.control, audit, deps.log.child({ component: "control" }));
      } catch (e) {
        await cma.stop();
        throw e;
      }
    }
    if (httpListen) {
      try {
        cma.http = await HttpServer.start(httpListen, cma.apiSources(), {
          queryTimeoutMs: cfg.httpQueryTimeoutMs, maxRows: cfg.httpMaxRows, maxBodyBytes: cfg.httpMaxBodyBytes,
          sessionMaxAgeMs: cfg.httpSessionMaxAgeMs, signInMaxFailures: cfg.httpSignInMaxFailures, signInWindowMs: cfg.httpSignInWindowMs, tls,
        }, deps.log.child({ component: "http" }));
      } catch (e) {
        await cma.stop();
        throw e;
      }
    }
    return cma;
  }

  private static openAccess(cfg: CmaConfig, log: Logger): AccessStore {
    mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
    return AccessStore.open(cfg.dataDir, log.child({ component: "access" }));
  }

  /** With no user yet: the admin, recorded in the audit log (never its password). */
  private static async bootstrapAdmin(access: AccessStore, cfg: CmaConfig, audit: AuditLog, log: Logger): Promise<void> {
    const boot = await bootstrapAdmin(access, cfg.adminPasswordFile, audit);
    if (boot?.generatedPassword) {
      // printed once: only its hash is kept
      process.stderr.write(`\nringwatch: first start, created user "${boot.user}" (role admin) with password: ${boot.generatedPassword}\n` +
        `  sign in at the web UI, or: ringwatch-cma user passwd ${boot.user} --password-file FILE\n\n`);
      log.warn({ user: boot.user, accessFile: access.path }, "first start: created the admin user with a generated password, printed once to stderr (only its hash is kept)");
    } else if (boot) log.info({ user: boot.user, from: cfg.adminPasswordFile }, "first start: created the admin user with the password from adminPasswordFile");
    if (boot?.auditError) log.error({ user: boot.user, err: boot.auditError }, "first start: the admin user was created but its creation could not be recorded in the audit log");
  }

  /** What the HTTP API reads. */
  apiSources(): ApiSources {
    if (!this.access) throw new Error("the HTTP API needs the access store");
    return {
      status: () => this.status(), membership: this.rings.membership, inventory: this.inventory, alerts: this.alerts, discovery: this.discovery,
      stats: this.stats, monitoringErrors: this.monitoringErrors, graph: this.graph ? { store: this.graph, queries: namedQueries } : undefined,
      access: this.access, hostControl: this.rings.control, audit: this.audit, domainActions: this.domainActions, ladders: this.ladders,
      history: this.history, hostKeys: this.admission,
    };
  }

  private dispatch(m: InboundMessage): void {
    const env = decodeInbound(m, this.log);
    if (!env) {
      this.counters.badMessages++;
      return;
    }
    // one gate: a host whose key waits for approval or was revoked is heard only announcing (counted there)
    if (!env.announce && !this.admission.mayTalk(m.from.id)) return;
    // a host whose keys we hold seals everything but its announcements: anything else is someone else's
    if (!m.sealed && !env.announce && this.endpoint.pairKeys?.knows(m.from.id)) {
      this.counters.unsealedMessages++;
      this.log.debug({ from: m.from.id, address: `${m.from.address}:${m.from.port}`, body: env.body }, "unsealed message from a keyed host dropped");
      return;
    }
    if ((env.inventory || env.alert || env.discovery || env.stats) && m.reliable) {
      // only from a host the rings know, at the address it is known by
      const h = this.rings.membership.get(m.from.id);
      if (!h || h.address !== m.from.address || h.port !== m.from.port) this.counters.badMessages++;
      else if (env.inventory) this.inventory.apply(h.name, env.inventory);
      else if (env.alert) this.alerts.apply(h.name, env.alert);
      else if (env.discovery) this.discovery.apply(h.name, env.discovery);
      else this.stats.apply(h.name, env.stats!.batch);
      return;
    }
    if (env.commandResult && m.reliable && this.domainActions.onResult(m.from, env.commandResult)) return;
    if (!this.rings.handle(m, env)) {
      this.counters.badMessages++;
      this.log.debug({ from: m.from.id, body: env.body, reliable: m.reliable }, "unexpected message dropped");
    }
  }

  status(): Record<string, unknown> {
    return {
      hosts: this.rings.membership.countByState(), counters: this.rings.counters, hostKeys: this.hostKeysStatus(), assignmentsPending: this.rings.assignmentsPending, badMessages: this.counters.badMessages, unsealedMessages: this.counters.unsealedMessages, unansweredChallenges: this.unansweredChallenges.unanswered,
      inventory: this.inventory.counters, alerts: this.alerts.counters, domainActions: { inFlight: this.domainActions.inFlight, ...this.domainActions.counters }, ladders: this.ladders ? { ...this.ladders.counters } : null, monitoringErrors: { active: this.monitoringErrors.active().length, ...this.monitoringErrors.counters }, discovery: this.discovery.counters, stats: this.stats.counters, probesSent: this.rings.prober.probesSent, probesQueuedMax: this.rings.prober.probesQueuedMax, channel: this.endpoint.counters,
      ...(this.http ? { http: this.http.counters, access: this.http.accessCounters } : {}),
      ...(this.control ? { control: this.control.counters } : {}),
      audit: { lastSeq: this.audit.lastSeq, ...this.audit.counters },
      zabbixSender: this.zabbixSender?.status(), zabbix: this.zabbix?.status(),
      history: this.history ? { ...this.history.store.counters, alertEvents: this.history.alertEvents.counters, retention: this.history.retention.counters } : null,
      graph: this.graphIngestor ? { store: this.graph!.kind, pending: this.graphIngestor.pendingItems, ...this.graphIngestor.counters } : null,
      ...(this.haStatus ? { ha: this.haStatus() } : {}),
    };
  }

  private hostKeysStatus(): Record<string, unknown> {
    const store = this.admission.store;
    const pins = { pinned: store.count("pinned"), pending: store.count("pending"), revoked: store.count("revoked") };
    return { policy: this.admission.policy, pins, enrollmentsOutstanding: this.admission.enrollmentsOutstanding, ...this.admission.counters, refused: { ...this.admission.counters.refused } };
  }

  async stop(): Promise<void> {
    await this.http?.close(); // answer no more requests before the parts they read from stop
    this.http = undefined;
    await this.control?.close();
    this.control = undefined;
    await this.ladders?.stop(); // before the parts its steps use
    this.rings.stop();
    this.admission.stop(); // pins made moments ago are written
    for (const stop of this.stopWatching.splice(0)) stop();
    await this.zabbix?.stop(); // held values go to the sender's spool
    await this.zabbixSender?.stop();
    this.stats.close();
    await this.endpoint.close();
    await this.graphIngestor?.stop();
    await this.graph?.close();
    await this.history?.retention.stop();
    this.history?.store.close();
    this.history?.alertEvents.close();
    this.history = undefined;
    this.audit.close(); // last: whatever stopped above may still have recorded
  }
}

/**
 * The Zabbix escalation action runs the ladder inside Zabbix: it needs the scripts it runs, waits
 * Zabbix accepts, and no ladder of ringwatch's own acting beside it (two ladders would reboot and
 * reset the same guest twice; ringwatch's in dry-run beside it is fine).
 */
function checkZabbixAction(cfg: CmaConfig, policy: LadderPolicy | undefined): void {
  if (!cfg.zabbixCreateActions) return;
  if (!cfg.zabbixScriptsCmaUrl) throw new ConfigError("zabbixCreateActions needs zabbixScriptsCmaUrl: the action's steps run the scripts that call the CMA");
  if (policy?.mode === "act") throw new ConfigError(`zabbixCreateActions with actionPolicyFile in mode "act": two ladders would act on the same guests; use one (or ringwatch's in mode "dry-run")`);
  actionOptions(cfg);
}

/** The ladder policy, when a file is configured (it needs dataDir for the ladders' state). */
function openLadderPolicy(cfg: CmaConfig): LadderPolicy | undefined {
  if (!cfg.actionPolicyFile) return undefined;
  if (!cfg.dataDir) throw new ConfigError("actionPolicyFile needs dataDir: the ladders' state is kept there across restarts");
  return loadLadderPolicy(cfg.actionPolicyFile);
}

/** The history store the configuration asks for, opened, with its retention job (not started). */
function openHistory(cfg: CmaConfig, log: Logger): Cma["history"] {
  if (cfg.historyStore === "none") return undefined;
  if (cfg.historyHourlyDays < cfg.historyFullDays) throw new ConfigError(`historyHourlyDays (${cfg.historyHourlyDays}) must be at least historyFullDays (${cfg.historyFullDays}): older ranges are charted from the hourly rollups`);
  const dir = cfg.historyDir || (cfg.dataDir ? join(cfg.dataDir, "history") : "");
  if (!dir) throw new ConfigError('historyStore is "sqlite" but neither historyDir nor dataDir is set');
  const hlog = log.child({ component: "history" });
  let store: HistoryStore | undefined;
  let alertEvents: AlertEventLog;
  try {
    store = new HistoryStore(dir, hlog);
    alertEvents = new AlertEventLog(dir, hlog);
  } catch (e) {
    store?.close();
    throw new ConfigError(`history store: cannot open ${dir}: ${(e as Error).message} (set historyDir, or historyStore "none")`);
  }
  const o = { fullDays: cfg.historyFullDays, hourlyDays: cfg.historyHourlyDays };
  return { store, alertEvents, retention: new HistoryRollupRetention(store, { ...o, everyMs: cfg.historyRollupMs }, hlog, alertEvents), ...o, maxPoints: cfg.historyMaxPoints };
}

/** The pins and the policy's settings: a damaged pin file or a bad hostKeysFile stops the start. */
function openHostKeys(cfg: CmaConfig): { pins: PinStore; enrollments: EnrollmentStore; policy: HostKeyPolicy; enrolled: EnrolledKeys } {
  const policy = cfg.hostKeyPolicy as HostKeyPolicy;
  if (policy !== "enrolled" && cfg.hostKeysFile) throw new ConfigError(`hostKeysFile is read only with hostKeyPolicy "enrolled" (it is "${policy}")`);
  // enrolled without a file: only hosts with a one-time enrollment token are admitted
  const enrolled = policy === "enrolled" && cfg.hostKeysFile ? readEnrolledKeys(cfg.hostKeysFile) : new Map<string, string>();
  return { pins: PinStore.open(cfg.dataDir), enrollments: EnrollmentStore.open(cfg.dataDir), policy, enrolled };
}
