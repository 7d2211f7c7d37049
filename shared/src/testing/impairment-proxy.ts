/**
 * A UDP proxy on loopback that loses, duplicates, reorders and delays datagrams in both directions.
 * Clients send to `proxy.address()`; the proxy forwards to the target from one socket per client,
 * so the target sees each client at a distinct address and replies travel back the same way.
 * Real sockets, real kernel: used by the channel tests and the benchmarks.
 */
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import type { PeerAddress } from "../channel/link.js";
import { seededRandom } from "../seeded-random.js";

export interface Impairment {
  /** probability a datagram is dropped */
  loss: number;
  /** probability a datagram is delivered twice */
  duplicate: number;
  /** probability a datagram is held back by a random delay up to reorderDelayMs (so later ones overtake it) */
  reorder: number;
  reorderDelayMs: number;
  /** fixed delay added to every datagram */
  delayMs: number;
}

export const NO_IMPAIRMENT: Impairment = { loss: 0, duplicate: 0, reorder: 0, reorderDelayMs: 0, delayMs: 0 };

export interface ProxyStats {
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  /** UDP payload bytes that arrived from clients (towards the target) and from the target (replies) */
  bytesFromClients: number;
  bytesFromTarget: number;
  datagramsFromClients: number;
  datagramsFromTarget: number;
}

export class ImpairmentProxy {
  readonly stats: ProxyStats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, bytesFromClients: 0, bytesFromTarget: 0, datagramsFromClients: 0, datagramsFromTarget: 0 };
  private readonly backs = new Map<string, Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly front: Socket,
    private readonly target: PeerAddress,
    public impairment: Impairment,
    private readonly rand: () => number,
    private readonly bindAddress: string,
  ) {
    front.on("message", (buf, rinfo) => this.fromClient(buf, { address: rinfo.address, port: rinfo.port }));
    front.on("error", () => {});
  }

  static async open(target: PeerAddress, impairment: Partial<Impairment> = {}, seed = 1, bindAddress = "127.0.0.1"): Promise<ImpairmentProxy> {
    const front = await bound(bindAddress);
    return new ImpairmentProxy(front, target, { ...NO_IMPAIRMENT, ...impairment }, seededRandom(seed), bindAddress);
  }

  address(): PeerAddress {
    const a = this.front.address();
    return { address: a.address, port: a.port };
  }

  private fromClient(buf: Buffer, client: PeerAddress): void {
    const key = `${client.address}:${client.port}`;
    let back = this.backs.get(key);
    if (!back) {
      back = createSocket("udp4");
      back.on("error", () => {});
      back.on("message", (reply) => {
        this.stats.bytesFromTarget += reply.length;
        this.stats.datagramsFromTarget++;
        this.forward(reply, this.front, client);
      });
      back.bind(0, this.bindAddress);
      this.backs.set(key, back);
    }
    this.stats.bytesFromClients += buf.length;
    this.stats.datagramsFromClients++;
    this.forward(buf, back, this.target);
  }

  private forward(buf: Buffer, via: Socket, to: PeerAddress): void {
    if (this.closed) return;
    const im = this.impairment;
    if (this.rand() < im.loss) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rand() < im.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = im.delayMs;
      if (this.rand() < im.reorder) {
        delay += this.rand() * im.reorderDelayMs;
        this.stats.reordered++;
      }
      this.stats.forwarded++;
      if (delay <= 0) via.send(buf, to.port, to.address);
      else {
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.closed) via.send(buf, to.port, to.address);
        }, delay);
        this.timers.add(t);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const all = [this.front, ...this.backs.values()];
    this.backs.clear();
    await Promise.all(all.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function bound(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, address, () => {
      s.off("error", reject);
      resolve(s);
    });
  });
}
