/**
 * Alert events (cma/src/alerts): one Alert node per (host, kind, subject), raised and cleared in
 * place, linked to the host and, when the subject is a guest's uuid, to that guest.
 */
import type { AlertEvent } from "../../intake/alert-store.js";
import { mergeNodes, mergeRels } from "../write-batch.js";
import { UUID_RE } from "./input.js";
import { phased } from "./phased.js";
import type { Phased } from "./phased.js";

export const alertKey = (host: string, kind: string, subject: string): string => `${host}|${kind}|${subject}`;

export function alertWrites(e: AlertEvent): Phased {
  const a = e.alert;
  const key = alertKey(e.host, a.kind, a.subject);
  const at = a.atMs || Date.now();
  const raised = e.change === "raised";
  const row = raised
    ? { key, host: e.host, kind: a.kind, subject: a.subject, subjectName: a.subjectName || null, active: true, raisedAt: at, clearedAt: null, evidence: a.evidenceJson, updatedAt: at }
    : { key, host: e.host, kind: a.kind, subject: a.subject, active: false, clearedAt: at, updatedAt: at };
  // a guest the graph has not heard of yet is created with its uuid only; inventory fills it in
  const guest = UUID_RE.test(a.subject) ? a.subject.toLowerCase() : undefined;
  return phased({
    nodes: [...mergeNodes("Host", [{ name: e.host }]), ...mergeNodes("Alert", [row]), ...(guest ? mergeNodes("Domain", [{ uuid: guest }]) : [])],
    link: [
      ...mergeRels("CONCERNS", "Alert", "Host", [{ from: key, to: e.host }]),
      ...(guest ? mergeRels("CONCERNS", "Alert", "Domain", [{ from: key, to: guest }]) : []),
    ],
  });
}
