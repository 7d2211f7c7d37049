/**
 * The latest discovery document of each type from each host, validated with the same rules the
 * nanoprobe applies to script output. Each new or changed document is an event (the graph ingests
 * them per discovertype). Documents are filed under the authenticated sender, whatever their own
 * "host" field says, so a host can only report about itself.
 */
import { EventEmitter } from "node:events";
import { parseDocument } from "@ringwatch/shared";
import type { Discovery, DiscoveryDocument, Logger } from "@ringwatch/shared";

export interface DiscoveryEvent {
  host: string;
  script: string;
  document: DiscoveryDocument;
  at: number;
}

const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
const MAX_TYPES_PER_HOST = 64;

export class DiscoveryStore extends EventEmitter<{ event: [DiscoveryEvent] }> {
  private readonly byHost = new Map<string, Map<string, DiscoveryEvent>>();
  readonly counters = { received: 0, refused: 0 };

  constructor(private readonly log: Logger) {
    super();
  }

  latest(host: string, discovertype: string): DiscoveryDocument | undefined {
    return this.byHost.get(host)?.get(discovertype)?.document;
  }

  /** The latest document of a type with who sent it and when (what the graph ingests). */
  event(host: string, discovertype: string): DiscoveryEvent | undefined {
    return this.byHost.get(host)?.get(discovertype);
  }

  types(host: string): string[] {
    return [...(this.byHost.get(host)?.keys() ?? [])];
  }

  /** A removed host leaves the active views; no events: the graph keeps its history as it was. */
  forget(host: string): void {
    this.byHost.delete(host);
  }

  apply(host: string, d: Discovery): boolean {
    const refuse = (err: string): false => {
      this.counters.refused++;
      this.log.warn({ host, script: d.script.slice(0, 64), err }, "discovery document refused");
      return false;
    };
    if (d.documentJson.length > MAX_DOCUMENT_BYTES) return refuse("document too large");
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(d.script)) return refuse("bad script name");
    const p = parseDocument(d.documentJson);
    if (!p.ok) return refuse(`${p.kind}: ${p.detail}`);
    const m = this.byHost.get(host) ?? new Map<string, DiscoveryEvent>();
    if (!m.has(p.document.discovertype) && m.size >= MAX_TYPES_PER_HOST) return refuse("too many discovery types");
    this.byHost.set(host, m);
    this.counters.received++;
    const e: DiscoveryEvent = { host, script: d.script, document: p.document, at: d.atMs };
    m.set(p.document.discovertype, e);
    this.emit("event", e);
    return true;
  }
}
