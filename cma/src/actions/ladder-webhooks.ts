/**
 * The ladder's notifications to the webhooks its policy names: one JSON POST per notice
 * (`unhealthy` at a notify step, `escalated`, `resolved` when the guest is healthy again), each with
 * a timeout; a webhook that fails is logged and counted, never retried forever and never in the
 * ladder's way (the next step still comes). What was sent, and to how many, is the step's record.
 */
import type { Logger } from "@ringwatch/shared";

export interface LadderNotice {
  event: "unhealthy" | "escalated" | "resolved";
  ladder: string;
  guest: { uuid: string; name: string };
  host: string;
  /** the alert's evidence (JSON text), or why it ended */
  detail: string;
  at: number;
  steps?: string[];
  done?: string[];
}

const TIMEOUT_MS = 5000;

export class LadderWebhooks {
  readonly counters = { sent: 0, failed: 0 };

  constructor(private readonly urls: readonly string[], private readonly log: Logger) {}

  /** Sends to every webhook; answers what happened, for the step's record. Never throws. */
  async send(n: LadderNotice): Promise<string> {
    if (this.urls.length === 0) return `${n.event}: no webhook configured (the audit log and the guest's Zabbix problem carry it)`;
    const body = JSON.stringify({ source: "ringwatch", ...n });
    const results = await Promise.all(this.urls.map(async (url) => {
      try {
        const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "manual" });
        await r.body?.cancel();
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        this.counters.sent++;
        return undefined;
      } catch (e) {
        this.counters.failed++;
        const why = (e as Error).name === "TimeoutError" ? `no answer within ${TIMEOUT_MS} ms` : (e as Error).message;
        this.log.warn({ url: new URL(url).origin, event: n.event, err: why }, "ladder webhook failed");
        return `${new URL(url).origin}: ${why}`;
      }
    }));
    const failed = results.filter((r) => r !== undefined);
    return `${n.event}: sent to ${this.urls.length - failed.length} of ${this.urls.length} webhooks${failed.length ? ` (failed: ${failed.join("; ")})` : ""}`;
  }
}
