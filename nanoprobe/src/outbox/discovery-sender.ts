/**
 * Discovery documents to the CMA: the latest document of each script (scripts send only when their
 * document changed, so none may be lost); a script that hangs, crashes or prints garbage is an
 * alert, never a crash, cleared by its next good run.
 */
import type { Alert, Logger } from "@ringwatch/shared";
import type { DiscoveryDocumentEvent, DiscoveryError } from "../discovery/types.js";
import type { CmaRegistration } from "./cma-registration.js";
import { KeyedOutbox } from "./keyed-outbox.js";

export class DiscoverySender {
  /** per script, its latest document still to deliver */
  readonly outbox: KeyedOutbox<DiscoveryDocumentEvent>;
  private readonly failingScripts = new Set<string>();

  constructor(
    cma: CmaRegistration,
    private readonly log: Logger,
    /** where a script's failure (and its end) goes */
    private readonly alert: (a: Alert) => void,
    /** the time an observation is handed over, on a clock that only moves forward */
    private readonly now: () => number,
  ) {
    this.outbox = new KeyedOutbox({
      ready: () => cma.ready,
      send: (e) => cma.send({ discovery: { script: e.script, documentJson: JSON.stringify(e.document), atMs: e.at } }),
    });
  }

  document(e: DiscoveryDocumentEvent): void {
    if (this.failingScripts.delete(e.script)) {
      this.alert({ kind: "discoveryError", subject: e.script, subjectName: e.script, active: false, evidenceJson: "{}", atMs: e.at });
    }
    this.outbox.add(e.script, e, this.now());
  }

  /** A script that hangs, crashes or prints garbage is an alert, never a crash; cleared by its next good run. */
  error(e: DiscoveryError): void {
    this.log.warn({ script: e.script, kind: e.kind, detail: e.detail }, "discovery script failed");
    this.failingScripts.add(e.script);
    this.alert({ kind: "discoveryError", subject: e.script, subjectName: e.script, active: true, evidenceJson: JSON.stringify({ kind: e.kind, detail: e.detail.slice(0, 2000), stderrTail: e.stderrTail.slice(-2000) }), atMs: e.at });
  }
}
