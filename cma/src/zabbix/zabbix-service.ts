/**
 * Zabbix inside the CMA: the API client (credentials from the configuration or their files), the
 * configuration sync and the bridge feeding the value sink (the durable sender). Without
 * zabbixApiUrl there is no sync (Zabbix configured by hand from the template file) and the bridge
 * sends values as they come. Stopped before the sender so that held values reach its spool.
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "@ringwatch/shared";
import type { Logger } from "@ringwatch/shared";
import type { CmaConfig } from "../config.js";
import { ZabbixApi } from "./config/api-client.js";
import { ZabbixBridge } from "./bridge.js";
import type { BridgeSources, UnknownPair } from "./bridge.js";
import { ConfigSync } from "./config/config-sync.js";
import { parseActionWaits } from "./config/action-sync.js";
import type { ActionOptions } from "./config/action-sync.js";
import { zabbixNames } from "./config/names.js";
import type { ZabbixValueSink } from "./sender/zabbix-value.js";

export type ZabbixApiConfig = Pick<CmaConfig,
  | "zabbixApiUrl" | "zabbixApiToken" | "zabbixApiTokenFile" | "zabbixUser" | "zabbixPassword" | "zabbixPasswordFile" | "zabbixApiTimeoutMs"
  | "zabbixHostGroup" | "zabbixTemplateGroup" | "zabbixHypervisorTemplate" | "zabbixGuestTemplate" | "zabbixCmaTemplate" | "zabbixCmaHost" | "zabbixHostPerDomain"
  | "zabbixScriptsCmaUrl" | "zabbixCreateActions" | "zabbixActionWaits" | "zabbixActionNotifyGroup" | "zabbixActionEscalateGroup" | "zabbixSyncDebounceMs" | "zabbixSyncRetryMs" | "zabbixTemplateRecheckMs" | "zabbixStateRefreshMs" | "zabbixConfigCacheDelayMs" | "zabbixMaxHeldValues" | "zabbixMaxHoldMs">;

/** First line of a secret file; a clear error naming the option when it cannot be read or is empty. */
function secretFrom(file: string, option: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`${option}: cannot read ${file}: ${(e as Error).message}`);
  }
  const first = text.split(/\r?\n/)[0].trim();
  if (!first) throw new ConfigError(`${option}: ${file} is empty`);
  return first;
}

/** The escalation action the configuration asks for (throws ConfigError for waits Zabbix would refuse). */
export function actionOptions(cfg: Pick<CmaConfig, "zabbixActionWaits" | "zabbixActionNotifyGroup" | "zabbixActionEscalateGroup">): ActionOptions {
  let waits: ActionOptions["waits"];
  try {
    waits = parseActionWaits(cfg.zabbixActionWaits);
  } catch (e) {
    throw new ConfigError(`zabbixActionWaits: ${(e as Error).message}`);
  }
  return { name: "ringwatch: guest recovery (seed 001)", waits, notifyGroup: cfg.zabbixActionNotifyGroup, escalateGroup: cfg.zabbixActionEscalateGroup };
}

/** The API client the configuration describes (throws ConfigError for incomplete credentials). */
export function apiFromConfig(cfg: ZabbixApiConfig, log: Logger): ZabbixApi {
  const token = cfg.zabbixApiToken || (cfg.zabbixApiTokenFile ? secretFrom(cfg.zabbixApiTokenFile, "zabbixApiTokenFile") : "");
  const password = cfg.zabbixPassword || (cfg.zabbixPasswordFile ? secretFrom(cfg.zabbixPasswordFile, "zabbixPasswordFile") : "");
  if (!token && !(cfg.zabbixUser && password)) {
    throw new ConfigError("zabbixApiUrl is set: give zabbixApiToken(File), or zabbixUser with zabbixPassword(File)");
  }
  try {
    return new ZabbixApi({ url: cfg.zabbixApiUrl, token: token || undefined, user: token ? undefined : cfg.zabbixUser, password: token ? undefined : password, timeoutMs: cfg.zabbixApiTimeoutMs, log });
  } catch (e) {
    throw new ConfigError(`zabbixApiUrl: ${(e as Error).message}`);
  }
}

export class ZabbixService {
  /** undefined without zabbixApiUrl: Zabbix is configured by hand (template file), values still flow */
  readonly api: ZabbixApi | undefined;
  readonly sync: ConfigSync | undefined;
  readonly bridge: ZabbixBridge;

  constructor(cfg: ZabbixApiConfig, sources: BridgeSources, private readonly sink: ZabbixValueSink, log: Logger, scriptsToken?: () => string) {
    const zlog = log.child({ part: "zabbix" });
    this.api = cfg.zabbixApiUrl ? apiFromConfig(cfg, zlog) : undefined;
    this.sync = this.api && new ConfigSync(this.api, {
      names: zabbixNames(cfg),
      hostGroup: cfg.zabbixHostGroup, hostPerDomain: cfg.zabbixHostPerDomain, log: zlog,
      ...(cfg.zabbixScriptsCmaUrl && scriptsToken ? { scripts: { cmaUrl: cfg.zabbixScriptsCmaUrl, token: scriptsToken, prefix: "ringwatch" } } : {}),
      ...(cfg.zabbixCreateActions ? { action: actionOptions(cfg) } : {}),
    });
    this.bridge = new ZabbixBridge(sources, this.sync, sink, {
      hostPerDomain: cfg.zabbixHostPerDomain, syncDebounceMs: cfg.zabbixSyncDebounceMs, syncRetryMs: cfg.zabbixSyncRetryMs,
      stateRefreshMs: cfg.zabbixStateRefreshMs, templateRecheckMs: cfg.zabbixTemplateRecheckMs, configCacheDelayMs: cfg.zabbixConfigCacheDelayMs,
      maxHeldValues: cfg.zabbixMaxHeldValues, maxHoldMs: cfg.zabbixMaxHoldMs, cmaHost: cfg.zabbixCmaHost,
    }, zlog);
  }

  start(): void {
    this.bridge.start();
  }

  /** When the oldest value not yet confirmed by Zabbix entered (the bridge's holdback or the sender); undefined: none waits. */
  oldestUndeliveredAt(): number | undefined {
    const held = this.bridge.holdback.oldestHeldAt();
    const sent = this.sink.oldestPendingAt?.();
    return held === undefined ? sent : sent === undefined ? held : Math.min(held, sent);
  }

  /** For the sender's onUnknown hook. */
  unknown(pairs: readonly UnknownPair[]): void {
    this.bridge.handleUnknown(pairs);
  }

  status(): Record<string, unknown> {
    return { bridge: this.bridge.counters, held: this.bridge.holdback.size, holdback: this.bridge.holdback.counters, sync: this.sync?.counters ?? null, api: this.api?.counters ?? null, lastSyncError: this.bridge.lastSyncError ?? null };
  }

  async stop(): Promise<void> {
    await this.bridge.stop();
    await this.api?.close();
  }
}
