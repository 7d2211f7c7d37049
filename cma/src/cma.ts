/** The CMA process: one endpoint (unicast + the multicast group) and the ring service on it. */
import type { KeyObject } from "node:crypto";
import { Endpoint } from "@ringwatch/shared";
import type { Keyring, Logger } from "@ringwatch/shared";
import type { CmaConfig } from "./config.js";
import { RingService } from "./membership/ring-service.js";

export class Cma {
  private constructor(
    readonly endpoint: Endpoint,
    readonly rings: RingService,
  ) {}

  static async start(cfg: CmaConfig, deps: { keyring: Keyring; commandKey: KeyObject; log: Logger }): Promise<Cma> {
    const endpoint = await Endpoint.open({
      identity: cfg.identity, keyring: deps.keyring, bindAddress: cfg.bindAddress, port: cfg.port, log: deps.log, reuseAddr: true,
      multicast: cfg.multicastGroup ? { group: cfg.multicastGroup, interfaceAddress: cfg.multicastInterface || undefined, join: true, ttl: 1 } : undefined,
    });
    const rings = new RingService(endpoint, deps.commandKey, {
      heartbeatMs: cfg.heartbeatMs, warntimeMs: cfg.warntimeMs, deadtimeMs: cfg.deadtimeMs, ringsPerSegment: cfg.ringsPerSegment === 2 ? 2 : 1,
      segmentPrefixLength: cfg.segmentPrefixLength, probeAttempts: cfg.probeAttempts, probeIntervalMs: cfg.probeIntervalMs,
      reannounceGraceMs: cfg.reannounceGraceMs, segmentRecheckMs: cfg.segmentRecheckMs, dataDir: cfg.dataDir || undefined,
      multicast: cfg.multicastGroup ? { address: cfg.multicastGroup, port: cfg.port } : undefined,
    }, deps.log);
    rings.start();
    return new Cma(endpoint, rings);
  }

  status(): Record<string, unknown> {
    return { hosts: this.rings.membership.countByState(), counters: this.rings.counters, probesSent: this.rings.prober.probesSent, channel: this.endpoint.counters };
  }

  async stop(): Promise<void> {
    this.rings.stop();
    await this.endpoint.close();
  }
}
