/**
 * A CMA with an escalation-ladder policy and one nanoprobe (hv1) on libvirt's test driver, in one
 * process over real UDP, whose guest checks target a real HTTP server on loopback standing for the
 * guests' services: the test sets each guest's status there (503: unhealthy after two checks).
 * Used by test/ladder.test.ts and, with the HTTP API on, by test/console-ladders.test.ts.
 * The test driver's guests have no OS: the test plays the guest's service, libvirt does the rest.
 */
import type { KeyObject } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import type { Keyring } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { Cma, cmaConfig } from "@ringwatch/cma";
import type { LadderState } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { testHostKeys } from "./host-keys.js";

/** The guests' services: GET /<guest name> answers the status set for that name (200 when none). */
export interface GuestServices {
  port: number;
  status: Map<string, number>;
  close(): Promise<void>;
}

export async function guestServices(): Promise<GuestServices> {
  const status = new Map<string, number>();
  const server = createServer((req, res) => { res.statusCode = status.get(req.url!.slice(1)) ?? 200; res.end(); });
  const port = await new Promise<number>((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
  return { port, status, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface LadderCmaOptions {
  cluster: string;
  keyring: Keyring;
  commandKey: KeyObject;
  dataDir: string;
  /** the CMA's UDP port (a restarted CMA takes its predecessor's: the nanoprobe re-registers there) */
  port?: number;
  /** the HTTP API and console on a free loopback port (default: off) */
  http?: boolean;
  /** how long a silent neighbour takes to be reported late and dead (default: the cluster's, 5 s and 10 s) */
  detection?: { warntimeMs: number; deadtimeMs: number };
}

/** A CMA with `<dataDir>/policy.json` as its ladder policy, looking for due steps every 50 ms. */
export function startLadderCma(o: LadderCmaOptions): Promise<Cma> {
  return Cma.start(cmaConfig({
    cluster: o.cluster, bindAddress: "127.0.0.1", port: o.port ?? 0, multicastGroup: "", graphStore: "none", historyStore: "none",
    httpListen: o.http ? "127.0.0.1:0" : "off", dataDir: o.dataDir, actionPolicyFile: join(o.dataDir, "policy.json"), ladderTickMs: 50, ...o.detection,
  }), { keyring: o.keyring, commandKey: o.commandKey, log: silentLogger() });
}

export interface LadderClusterOptions extends Omit<LadderCmaOptions, "dataDir"> {
  cmaPublicKey: KeyObject;
  fx: Fixture;
  /** the guests checked (every 150 ms, two failures in a row: unhealthy) */
  guests: { uuid: string; name: string }[];
  services: GuestServices;
  /** the ladder policy (cma/src/actions/ladder-policy.ts), written to `<dataDir>/policy.json` */
  policy: object;
  /** default: a new temporary directory (a test may have put users there first) */
  dataDir?: string;
}

export interface LadderCluster {
  cma: Cma;
  np: Nanoprobe;
  dataDir: string;
  stopAll(): Promise<void>;
}

/** The CMA and the nanoprobe hv1, once the CMA's inventory has every guest of the fixture. */
export async function startLadderCluster(o: LadderClusterOptions): Promise<LadderCluster> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), "rw-ladder-"));
  writeFileSync(join(dataDir, "policy.json"), JSON.stringify(o.policy));
  const checks = join(dataDir, "checks.json");
  writeFileSync(checks, JSON.stringify({ defaults: { intervalMs: 150, timeoutMs: 100, failures: 2 }, checks: o.guests.map((g) => ({ guest: g.uuid, http: `http://127.0.0.1:${o.services.port}/${g.name}` })) }));
  const cma = await startLadderCma({ ...o, dataDir });
  const np = await Nanoprobe.start(nanoprobeConfig({ identity: "hv1", cluster: o.cluster, cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 100, heartbeatMs: 200, libvirtUri: o.fx.uri, statusIntervalMs: 0, discoveryDir: "", guestChecksFile: checks }), { keyring: o.keyring, cmaPublicKey: o.cmaPublicKey, log: silentLogger(), hostKeys: testHostKeys("hv1") });
  await waitUntil(() => cma.inventory.domains("hv1").length === o.fx.domains.length, 15_000, "the inventory at the CMA");
  return { cma, np, dataDir, stopAll: async () => { await np.stop(false); await cma.stop(); } };
}

/** the guest's latest ladder (under way, escalated or ended) */
export const ladderOf = (cma: Cma, uuid: string): LadderState | undefined => cma.ladders!.list().filter((l) => l.uuid === uuid).pop();
