/**
 * Admission and neighbour assignment: hosts announce themselves, the CMA keeps them in a ring ordered
 * by name and tells each one, in a signed command, to watch its predecessor and successor.
 */
import { EventEmitter } from "node:events";
import type { KeyObject } from "node:crypto";
import { MessageError, decodeEnvelope, encodeEnvelope, signCommand } from "@ringwatch/shared";
import type { Endpoint, Hello, InboundMessage, Logger, Neighbour, PeerAddress } from "@ringwatch/shared";

export interface AdmittedHost {
  name: string;
  machineId: string;
  address: PeerAddress;
  version: string;
  admittedAt: number;
}

export interface AdmissionCounters {
  admitted: number;
  refusedHellos: number;
  badMessages: number;
  commandsSent: number;
  commandsAcknowledged: number;
  commandsRefusedByHosts: number;
}

export interface AdmissionEvents {
  admitted: [AdmittedHost];
  ring: [string[]];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateHello(h: Hello | undefined): string | undefined {
  if (!h || !h.host) return "no host identity";
  if (!NAME_RE.test(h.host.name)) return `bad host name ${JSON.stringify(h.host.name)}`;
  if (h.host.machineId.length > 128) return "machine id too long";
  if (h.host.addresses.length > 64 || h.host.addresses.some((a) => a.length > 128)) return "too many or too long addresses";
  return undefined;
}

export class Admission extends EventEmitter<AdmissionEvents> {
  readonly hosts = new Map<string, AdmittedHost>();
  readonly counters: AdmissionCounters = { admitted: 0, refusedHellos: 0, badMessages: 0, commandsSent: 0, commandsAcknowledged: 0, commandsRefusedByHosts: 0 };

  constructor(
    private readonly endpoint: Endpoint,
    private readonly commandKey: KeyObject,
    private readonly heartbeatMs: number,
    private readonly log: Logger,
  ) {
    super();
    endpoint.on("message", (m) => this.onMessage(m));
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
    if (env.body === "hello" && m.reliable) return this.onHello(m, env.hello!);
    if (env.body === "commandResult" && m.reliable) {
      const r = env.commandResult!;
      if (r.ok) this.counters.commandsAcknowledged++;
      else {
        this.counters.commandsRefusedByHosts++;
        this.log.warn({ host: m.from.id, command: r.id, error: r.error }, "host refused a command");
      }
      return;
    }
    this.counters.badMessages++;
    this.log.debug({ from: m.from.id, body: env.body }, "unexpected message dropped");
  }

  private onHello(m: InboundMessage, hello: Hello): void {
    const err = validateHello(hello);
    if (err) {
      this.counters.refusedHellos++;
      this.log.warn({ from: `${m.from.address}:${m.from.port}`, err }, "announcement refused");
      return;
    }
    const name = hello.host.name;
    const prev = this.hosts.get(name);
    // the address is where the authenticated frames came from, not what the host claims
    const host: AdmittedHost = { name, machineId: hello.host.machineId, address: { address: m.from.address, port: m.from.port }, version: hello.version, admittedAt: Date.now() };
    this.hosts.set(name, host);
    const moved = !prev || prev.address.address !== host.address.address || prev.address.port !== host.address.port;
    if (!prev) {
      this.counters.admitted++;
      this.log.info({ host: name, address: `${host.address.address}:${host.address.port}`, version: hello.version }, "host admitted");
      this.emit("admitted", host);
    } else {
      this.log.debug({ host: name, moved }, "host announced again");
    }
    this.assignRing(prev && !moved ? [name] : undefined);
  }

  /** Ring order by name; tell every host (or only `only`) its predecessor and successor. */
  assignRing(only?: string[]): void {
    const names = [...this.hosts.keys()].sort();
    this.emit("ring", names);
    this.log.debug({ ring: names }, "ring order");
    names.forEach((name, i) => {
      if (only && !only.includes(name)) return;
      const neighbours: Neighbour[] = [];
      if (names.length > 1) {
        const pred = names[(i - 1 + names.length) % names.length];
        const succ = names[(i + 1) % names.length];
        for (const n of new Set([pred, succ])) {
          const h = this.hosts.get(n)!;
          neighbours.push({ name: n, address: h.address.address, port: h.address.port });
        }
      }
      const host = this.hosts.get(name)!;
      const command = signCommand(this.commandKey, { target: name, setNeighbours: { neighbours, heartbeatMs: this.heartbeatMs } });
      this.counters.commandsSent++;
      this.endpoint.send(host.address, encodeEnvelope({ command })).catch((e: Error) => this.log.warn({ host: name, err: e.message }, "neighbour assignment not acknowledged"));
    });
  }
}
