/**
 * The nanoprobe agent: announces itself to the CMA, executes the CMA's signed commands (and only
 * those), heartbeats the neighbours it is given and notes whose heartbeats arrive.
 */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import {
  CommandRefused, CommandVerifier, Endpoint, Keyring, MessageError, decodeEnvelope, encodeEnvelope, parseHostPort,
} from "@ringwatch/shared";
import type { CommandRefusal, InboundMessage, Logger, Neighbour, PeerAddress, ChannelOptions } from "@ringwatch/shared";
import type { NanoprobeConfig } from "./config.js";

export const NANOPROBE_VERSION = "0.1.0";

export interface NeighbourState extends Neighbour {
  lastHeartbeatAt: number;
  heartbeats: number;
}

export interface NanoprobeCounters {
  commandsAccepted: number;
  commandsRefused: number;
  badMessages: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
  unexpectedHeartbeats: number;
  hellosSent: number;
}

export interface NanoprobeDeps {
  keyring: Keyring;
  cmaPublicKey: KeyObject;
  log: Logger;
  channel?: Partial<ChannelOptions>;
}

export interface NanoprobeEvents {
  registered: [];
  neighbours: [Neighbour[]];
  commandRefused: [{ reason: CommandRefusal; detail: string }];
  heartbeat: [{ from: string }];
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

export class Nanoprobe extends EventEmitter<NanoprobeEvents> {
  readonly counters: NanoprobeCounters = { commandsAccepted: 0, commandsRefused: 0, badMessages: 0, heartbeatsSent: 0, heartbeatsReceived: 0, unexpectedHeartbeats: 0, hellosSent: 0 };
  readonly neighbours = new Map<string, NeighbourState>();
  readonly verifier: CommandVerifier;
  registered = false;
  private heartbeatMs: number;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  private heartbeatCounter = 0;
  private stopped = false;
  private readonly cma: PeerAddress;

  private constructor(
    readonly endpoint: Endpoint,
    private readonly cfg: NanoprobeConfig,
    private readonly log: Logger,
    cmaPublicKey: KeyObject,
  ) {
    super();
    this.cma = parseHostPort(cfg.cma, "cma");
    this.heartbeatMs = cfg.heartbeatMs;
    this.verifier = new CommandVerifier(cmaPublicKey, endpoint.identity);
    endpoint.on("message", (m) => this.onMessage(m));
    endpoint.on("peerRestart", ({ peer }) => {
      if (peer.address === this.cma.address && peer.port === this.cma.port) {
        this.log.info("CMA restarted: announcing again");
        this.registered = false;
        this.hello();
      }
    });
  }

  static async start(cfg: NanoprobeConfig, deps: NanoprobeDeps): Promise<Nanoprobe> {
    if (!cfg.cma) throw new Error("no CMA address configured (option cma, host:port)");
    const endpoint = await Endpoint.open({ identity: cfg.identity, keyring: deps.keyring, bindAddress: cfg.bindAddress, port: cfg.port, log: deps.log, channel: deps.channel });
    const np = new Nanoprobe(endpoint, cfg, deps.log, deps.cmaPublicKey);
    np.hello();
    np.scheduleHeartbeats();
    return np;
  }

  /** Announce ourselves until the CMA acknowledges (reliable send; retried after a give-up). */
  private hello(): void {
    if (this.stopped) return;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.counters.hellosSent++;
    const a = this.endpoint.address();
    const body = encodeEnvelope({ hello: { host: { name: this.endpoint.identity, machineId: machineId(), addresses: [`${a.address}:${a.port}`] }, version: NANOPROBE_VERSION, startedAtMs: this.endpoint.session.startMs } });
    this.endpoint.send(this.cma, body).then(
      () => {
        this.registered = true;
        this.log.info({ cma: `${this.cma.address}:${this.cma.port}` }, "registered with the CMA");
        this.emit("registered");
      },
      (e: Error) => {
        if (this.stopped) return;
        this.log.warn({ err: e.message, retryInMs: this.cfg.helloRetryMs }, "CMA did not acknowledge our announcement");
        this.helloTimer = setTimeout(() => this.hello(), this.cfg.helloRetryMs);
      },
    );
  }

  private onMessage(m: InboundMessage): void {
    let env;
    try {
      env = decodeEnvelope(m.payload);
    } catch (e) {
      this.counters.badMessages++;
      this.log.debug({ from: m.from.id, err: (e as MessageError).message }, "undecodable message dropped");
      return;
    }
    if (env.body === "heartbeat" && !m.reliable) {
      const n = this.neighbours.get(m.from.id);
      this.counters.heartbeatsReceived++;
      if (!n) {
        this.counters.unexpectedHeartbeats++;
        this.log.debug({ from: m.from.id }, "heartbeat from a host we were not told to expect");
        return;
      }
      n.lastHeartbeatAt = Date.now();
      n.heartbeats++;
      this.emit("heartbeat", { from: m.from.id });
      return;
    }
    if (env.body === "command" && m.reliable && env.command) {
      this.onCommand(m, env.command);
      return;
    }
    this.counters.badMessages++;
    this.log.debug({ from: m.from.id, body: env.body, reliable: m.reliable }, "unexpected message dropped");
  }

  private onCommand(m: InboundMessage, sc: NonNullable<ReturnType<typeof decodeEnvelope>["command"]>): void {
    let id = "";
    try {
      const cmd = this.verifier.verify(sc);
      id = cmd.id;
      if (cmd.setNeighbours) this.setNeighbours(cmd.setNeighbours.neighbours, cmd.setNeighbours.heartbeatMs);
      else throw new CommandRefused("malformed", "no action");
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

  private reply(m: InboundMessage, r: { id: string; ok: boolean; error: string }): void {
    this.endpoint.send(m.from, encodeEnvelope({ commandResult: r })).catch((e: Error) => this.log.debug({ err: e.message }, "command result not acknowledged"));
  }

  private setNeighbours(list: Neighbour[], heartbeatMs: number): void {
    const next = new Map<string, NeighbourState>();
    for (const n of list) {
      if (!n.name || !n.address || !(n.port > 0 && n.port < 65536)) throw new CommandRefused("malformed", `bad neighbour ${JSON.stringify(n)}`);
      next.set(n.name, this.neighbours.get(n.name) ?? { ...n, lastHeartbeatAt: 0, heartbeats: 0 });
    }
    this.neighbours.clear();
    for (const [k, v] of next) this.neighbours.set(k, v);
    if (heartbeatMs >= 50 && heartbeatMs !== this.heartbeatMs) {
      this.heartbeatMs = heartbeatMs;
      this.scheduleHeartbeats();
    }
    this.log.info({ neighbours: list.map((n) => n.name), heartbeatMs: this.heartbeatMs }, "neighbours assigned by the CMA");
    this.emit("neighbours", list);
  }

  private scheduleHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.sendHeartbeats(), this.heartbeatMs);
  }

  private sendHeartbeats(): void {
    if (this.neighbours.size === 0) return;
    const body = encodeEnvelope({ heartbeat: { sentAtMs: Date.now(), counter: ++this.heartbeatCounter } });
    for (const n of this.neighbours.values()) {
      this.endpoint.sendDatagram({ address: n.address, port: n.port }, body);
      this.counters.heartbeatsSent++;
    }
  }

  status(): Record<string, unknown> {
    const now = Date.now();
    return {
      registered: this.registered,
      neighbours: [...this.neighbours.values()].map((n) => ({ name: n.name, heartbeats: n.heartbeats, lastSeenMsAgo: n.lastHeartbeatAt ? now - n.lastHeartbeatAt : null })),
      counters: this.counters,
      channel: this.endpoint.counters,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    await this.endpoint.close();
  }
}
