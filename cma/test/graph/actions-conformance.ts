/**
 * Recovery actions on guests in the graph (ingest/recovery-actions.ts): the audit records the
 * HTTP actions route and the escalation ladder write, through a real AuditLog and the real
 * GraphIngestor, become RecoveryAction nodes linked to the guest, listed by the guestActions
 * named query, bounded per guest. Part of the conformance suite: the same on every store.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import type { AuditEntry, AuditRecord } from "../../src/audit/audit-entry.js";
import { AuditLog } from "../../src/audit/audit-log.js";
import type { GraphStore } from "../../src/graph/graph-store.js";
import { KEEP_PER_GUEST } from "../../src/graph/ingest/recovery-actions.js";
import { namedQueries } from "../../src/graph/named-queries.js";
import { freshStoreEachTest } from "./graph-fixtures.js";

const G1 = "0a000000-0000-4000-8000-0000000000c1", G2 = "0a000000-0000-4000-8000-0000000000c2";
const G3 = "0a000000-0000-4000-8000-0000000000c3", G4 = "0a000000-0000-4000-8000-0000000000c4";

/** What the actions route records for a person's request (http/domain-actions-plugin.ts). */
const asked = (uuid: string, action: string, detail: Record<string, unknown>, outcome: AuditRecord["outcome"] = "ok"): AuditRecord =>
  ({ actor: "alice", via: "session", from: "192.0.2.9", action: "domainAction", target: uuid, outcome, detail: { action, ...detail } });
/** What a ladder records for a step (actions/ladder.ts). */
const step = (uuid: string, s: string, outcome: string, detail: string, audit: AuditRecord["outcome"] = "ok"): AuditRecord =>
  ({ actor: "ladder", via: "policy", from: "cma", action: s === "notify" ? "ladderNotify" : "ladderAction", target: uuid, outcome: audit, detail: { ladder: "L1", name: "web1", host: "hv1", step: s, outcome, detail } });

export function actionsConformance(makeStore: () => Promise<GraphStore>): void {
  describe("recovery actions on guests", function () {
    this.timeout(180_000);
    const under = freshStoreEachTest(makeStore);
    const { rows } = under;
    let dir: string, audit: AuditLog;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "rw-graph-audit-"));
      audit = AuditLog.open(dir, { retentionDays: 10 }, silentLogger());
      audit.entries.on("entry", (e) => under.feed.auditEntries.emit("entry", e)); // as cma.ts wires AuditLog.entries
    });
    afterEach(() => {
      audit.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const guest = (uuid: string, name: string): void =>
      under.feed.domain("hv1", { uuid, name, state: "running", vcpus: 1, memoryKib: 262144, disks: [], nics: [] });
    const actions = async (uuid: string): Promise<Record<string, unknown>[]> => rows(namedQueries.guestActions.cypher, { uuid });

    it("a person's action and the ladder's steps become nodes linked to the guest, listed newest first", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      guest(G1, "web1");
      await under.feed.flush();
      audit.record({ actor: "alice", via: "session", from: "192.0.2.9", action: "signIn", outcome: "ok" }); // not an action on a guest
      const reboot = audit.record(asked(G1.toUpperCase(), "reboot", { reason: "hung console", host: "hv1", name: "web1", state: "running", commandId: "c1" }));
      const notify = audit.record(step(G1, "notify", "ok", "webhook 200"));
      const dry = audit.record(step(G1, "reset", "dry-run", "would reset web1 on hv1"));
      const refused = audit.record(step(G1, "reboot", "refused", "guest-cooldown: acted on 2 min ago", "denied"));
      await under.feed.flush();

      const got = await actions(G1.toUpperCase()); // the query lower-cases the uuid
      assert.deepEqual(got.map((r) => r.seq), [refused.seq, dry.seq, notify.seq, reboot.seq]);
      assert.deepEqual(got[3], {
        seq: reboot.seq, time: reboot.time, kind: "domainAction", action: "reboot", actor: "alice", via: "session", outcome: "ok",
        dryRun: false, reason: "hung console", result: null, state: "running", host: "hv1", ladder: null,
      });
      assert.deepEqual(got[2], {
        seq: notify.seq, time: notify.time, kind: "ladderNotify", action: "notify", actor: "ladder", via: "policy", outcome: "ok",
        dryRun: false, reason: null, result: "webhook 200", state: null, host: "hv1", ladder: "L1",
      });
      assert.deepEqual([got[1].action, got[1].dryRun, got[1].result], ["reset", true, "would reset web1 on hv1"]);
      assert.deepEqual([got[0].action, got[0].outcome, got[0].reason, got[0].result], ["reboot", "denied", "guest-cooldown: acted on 2 min ago", null]);
      // linked to the guest's own node: no second Domain for the upper-case uuid
      assert.deepEqual(await rows("MATCH (a:RecoveryAction)-[:ACTED_ON]->(d:Domain) RETURN d.uuid AS uuid, d.name AS name, count(a) AS n"), [{ uuid: G1, name: "web1", n: 4 }]);
      assert.deepEqual(await rows("MATCH (d:Domain) RETURN count(d) AS n"), [{ n: 1 }]);
      assert.deepEqual(await rows("MATCH (a:RecoveryAction) RETURN count(a) AS n"), [{ n: 4 }]);
      assert.equal(under.feed.ingestor.counters.recoveryActions, 4);
    });

    it(`keeps each guest's ${KEEP_PER_GUEST} newest actions`, async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      guest(G1, "web1");
      guest(G2, "db1");
      await under.feed.flush();
      const other = [audit.record(asked(G2, "reboot", { host: "hv1", state: "running" })).seq];
      const seqs: number[] = [];
      for (let i = 0; i < 55; i++) seqs.push(audit.record(asked(G1, i % 2 ? "reboot" : "reset", { reason: `try ${i}`, host: "hv1", state: "running" })).seq);
      await under.feed.flush(); // all 55 in one batch
      assert.deepEqual((await actions(G1)).map((r) => r.seq), seqs.slice(-KEEP_PER_GUEST).reverse());
      for (let i = 0; i < 3; i++) seqs.push(audit.record(step(G1, "reboot", "ok", "reboot done on hv1: now running")).seq);
      other.push(audit.record(asked(G2, "reset", { host: "hv1", state: "running" })).seq);
      await under.feed.flush(); // and a few more later
      assert.deepEqual((await actions(G1)).map((r) => r.seq), seqs.slice(-KEEP_PER_GUEST).reverse());
      assert.deepEqual((await actions(G2)).map((r) => r.seq), [...other].reverse(), "another guest's actions are its own");
      assert.deepEqual(await rows("MATCH (a:RecoveryAction) RETURN count(a) AS n"), [{ n: KEEP_PER_GUEST + 2 }], "the deleted ones are gone, not only unlinked");
    });

    it("an unknown guest, a missing uuid or a malformed detail crashes nothing", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      guest(G1, "web1");
      await under.feed.flush();
      // refused because the CMA knew no such guest: nothing to link to, no guest made up
      audit.record(asked(G3, "reboot", { reason: "", error: "unknown-domain", message: `no domain ${G3}` }, "invalid"));
      audit.record({ actor: "alice", via: "session", from: "192.0.2.9", action: "domainAction", target: "not-a-uuid", outcome: "invalid", detail: { action: "reboot" } });
      audit.record({ actor: "alice", via: "session", from: "192.0.2.9", action: "domainAction", outcome: "failed", detail: { action: "reboot" } });
      // what no AuditLog writes, but a listener must survive
      const odd = { seq: 9001, time: "2026-12-06T10:00:00.000Z", actor: "x", via: "token", from: "y", action: "domainAction", target: G1, outcome: "ok" };
      const emit = (e: unknown): boolean => under.feed.auditEntries.emit("entry", e as AuditEntry);
      emit(null);
      emit({ ...odd, seq: 0 });
      emit({ ...odd, seq: "9002" });
      emit({ ...odd, action: 5 });
      emit({ ...odd, seq: 9003, time: "not a time", detail: "not an object" });
      emit({ ...odd, seq: 9004, detail: { action: 5, host: { a: 1 }, reason: ["r"], state: "x".repeat(5000), error: 7 } });
      // a guest the graph has not heard of yet (inventory not in): made with its uuid, filled in later
      audit.record(step(G4, "reboot", "failed", "no-answer: hv1 did not answer", "failed"));
      await under.feed.flush();
      assert.equal(under.feed.ingestor.counters.ignoredActions, 5);
      assert.equal(under.feed.ingestor.counters.droppedItems, 0);
      assert.deepEqual(await rows("MATCH (d:Domain) WHERE d.uuid = $u RETURN d.uuid AS u", { u: G3 }), []);
      const g1 = await actions(G1);
      assert.deepEqual(g1.map((r) => [r.seq, r.time, r.action, r.host, r.reason, r.result]), [[9004, odd.time, null, null, null, null], [9003, null, null, null, null, null]]);
      assert.equal((g1[0].state as string).length, 1024, "a long text is cut");
      guest(G4, "late1");
      await under.feed.flush();
      assert.deepEqual((await rows("MATCH (a:RecoveryAction)-[:ACTED_ON]->(d:Domain {uuid: $u}) RETURN d.name AS name, a.outcome AS outcome, a.result AS result", { u: G4 })),
        [{ name: "late1", outcome: "failed", result: "no-answer: hv1 did not answer" }]);
      // and the next action is written as usual
      const next = audit.record(asked(G1, "reset", { host: "hv1", state: "running" }));
      await under.feed.flush();
      assert.ok((await actions(G1)).some((r) => r.seq === next.seq));
    });
  });
}
