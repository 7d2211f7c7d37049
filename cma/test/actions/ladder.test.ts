import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import { AlertStore, DomainActions, InventoryStore, Ladders, LadderStore, Membership, parseLadderPolicy, stepsFor } from "../../src/index.js";
import type { LadderState } from "../../src/index.js";
import { guardAction } from "../../src/actions/ladder-guards.js";
import { DEFAULT_LIMITS } from "../../src/actions/ladder-policy.js";
import { LadderWebhooks } from "../../src/actions/ladder-webhooks.js";
import { host } from "../http/api-fixture.js";

const UUID = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b";

/**
 * A guest web1 on hv1, reported unhealthy, with this ladder saved as a previous run left it; the
 * actions sent are recorded and answered at once (done, running).
 */
function unhealthyGuestWith(l: LadderState): { dir: string; membership: Membership; alerts: AlertStore; actions: DomainActions; sent: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "rw-ladder-unit-"));
  writeFileSync(join(dir, "ladders.json"), JSON.stringify({ ladders: [l], actions: [] }));
  const membership = new Membership(1);
  membership.upsert(host("hv1", "10.0.1.1"));
  const inventory = new InventoryStore(silentLogger());
  inventory.apply("hv1", { full: true, removed: [], atMs: 0, domains: [{ uuid: UUID, name: "web1", state: "running", vcpus: 1, memoryKib: 1, disks: [], nics: [] }] });
  const alerts = new AlertStore(silentLogger());
  alerts.apply("hv1", { kind: "guestUnhealthy", subject: UUID, subjectName: "web1", active: true, evidenceJson: "{}", atMs: 1 });
  const sent: string[] = [];
  const actions: DomainActions = new DomainActions({ inventory, membership, log: silentLogger(), send: async (_to, d) => {
    sent.push(d.domainAction.action);
    setImmediate(() => actions.onResult({ id: "hv1", address: "10.0.1.1", port: 1984 }, { id: d.id, ok: true, error: "", domainState: "running" }));
  } });
  return { dir, membership, alerts, actions, sent };
}

describe("cma/actions/ladder", () => {
  it("a policy file is validated whole, naming what is wrong", () => {
    const bad: [unknown, RegExp][] = [
      [{ mode: "yolo" }, /mode must be "act" or "dry-run"/],
      [{ default: ["notify", "format"] }, /default\[1\]: unknown step "format"/],
      [{ default: ["notify", { wait: "2m" }] }, /ends with a wait/],
      [{ default: [{ wait: "2 minutes" }, "notify"] }, /expected a duration/],
      [{ default: [] }, /list of 1 to 32 steps/],
      [{ guests: { db1: "sometimes" } }, /guests\.db1: expected a list/],
      [{ limits: { fleet: 0 } }, /limits\.fleet: expected an integer from 1/],
      [{ limits: { burst: 1 } }, /limits: unknown key "burst"/],
      [{ webhooks: ["ftp://x/"] }, /webhooks\[0\]: expected an http/],
      [{ colour: 1 }, /unknown key "colour"/],
      [{ tags: ["db"] }, /tags must be an object/],
      [{ tags: { "no spaces": "off" } }, /tags: "no spaces" is not a tag/],
      [{ tags: { db: "never" } }, /tags\.db: expected a list/],
    ];
    for (const [doc, re] of bad) assert.throws(() => parseLadderPolicy(doc, "p"), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(doc));
    const p = parseLadderPolicy({ default: ["notify", { wait: "2m" }, "reboot"], guests: { [UUID.toUpperCase()]: "off" }, limits: { window: "5m" } }, "p");
    assert.deepEqual(p.default, [{ do: "notify" }, { wait: 120_000 }, { do: "reboot" }]);
    assert.equal(p.guests.get(UUID), "off");
    assert.deepEqual(p.limits, { ...DEFAULT_LIMITS, windowMs: 300_000 });
  });

  it("a guest's steps: its own entry, else its first tag in the file's order, else the default", () => {
    const p = parseLadderPolicy({ default: ["notify"], guests: { web1: ["reset"] }, tags: { database: "off", batch: ["reboot"], web: ["escalate"] } }, "p");
    const steps = (name: string, tags: string[]) => stepsFor(p, UUID, name, tags)?.map((s) => ("do" in s ? s.do : "wait"));
    assert.deepEqual(steps("web1", ["database"]), ["reset"], "the guest's own entry wins over its tags");
    assert.equal(steps("db1", ["web", "database"]), undefined, "database comes first in the file: off");
    assert.deepEqual(steps("job1", ["web", "batch"]), ["reboot"], "batch before web in the file");
    assert.deepEqual(steps("other", ["unknown"]), ["notify"], "no tag of the policy: the default");
    assert.deepEqual(steps("other", []), ["notify"]);
  });

  it("guards: a segment with two other hosts down, a guest in its cooldown, a host past its limit", () => {
    const m = new Membership(1);
    for (const [n, a, st] of [["hv1", "10.0.1.1", "alive"], ["hv2", "10.0.1.2", "dead"], ["hv3", "10.0.1.3", "alive"], ["hv4", "10.0.2.1", "alive"]] as const) m.upsert(host(n, a, st));
    const limits = { ...DEFAULT_LIMITS, perHost: 2 };
    const now = 10_000_000;
    assert.equal(guardAction(m, limits, [], { ladder: "L", uuid: UUID, host: "hv1" }, now), undefined, "one dead host in the segment is a host's fault");
    m.upsert({ ...m.get("hv3")!, state: "suspect" });
    assert.equal(guardAction(m, limits, [], { ladder: "L", uuid: UUID, host: "hv1" }, now)?.refusal, "segment-suspect");
    assert.equal(guardAction(m, limits, [], { ladder: "L", uuid: UUID, host: "hv4" }, now), undefined, "another segment is fine");
    const marks = [{ ladder: "old", uuid: UUID, host: "hv4", at: now - 60_000 }];
    assert.equal(guardAction(m, limits, marks, { ladder: "L", uuid: UUID, host: "hv4" }, now)?.refusal, "guest-cooldown");
    assert.equal(guardAction(m, limits, [{ ...marks[0], ladder: "L" }], { ladder: "L", uuid: UUID, host: "hv4" }, now), undefined, "its own ladder's earlier step is no cooldown");
    const two = [{ ladder: "a", uuid: "x", host: "hv4", at: now - 1000 }, { ladder: "b", uuid: "y", host: "hv4", at: now - 2000 }];
    assert.equal(guardAction(m, limits, two, { ladder: "L", uuid: UUID, host: "hv4" }, now)?.refusal, "host-limit");
  });

  it("a step in flight when the CMA stopped is marked interrupted and never repeated; the ladder goes on", async () => {
    const { dir, membership, alerts, actions, sent } = unhealthyGuestWith({ id: "L1", uuid: UUID, name: "web1", host: "hv1", startedAt: 1, steps: ["notify", "reboot", "reset"], next: 1, dueAt: 0, inFlight: 1, status: "running", history: [{ step: 0, what: "notify", at: 1, outcome: "ok" }], evidence: "{}" });
    const audit: { action: string; outcome: string }[] = [];
    const ladders = new Ladders({ policy: parseLadderPolicy({ default: ["notify"] }, "p"), store: new LadderStore(dir), alerts, membership, actions, audit: { record: (r) => audit.push(r) }, webhooks: new LadderWebhooks([], silentLogger()), log: silentLogger(), tickMs: 20 });
    const levels: string[] = [];
    ladders.events.on("level", (e) => levels.push(`${e.step}:${e.level}`));
    try {
      const after = () => ladders.list()[0];
      for (let i = 0; i < 100 && after().status === "running"; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(after().history.map((h) => `${h.what}:${h.outcome}`), ["notify:ok", "reboot:interrupted", "reset:ok"]);
      assert.deepEqual(sent, ["reset"], "the interrupted reboot was not sent again");
      assert.equal(after().status, "ended");
      assert.equal(ladders.counters.interruptedSteps, 1);
      assert.deepEqual(levels, ["reset:3", "end:0"], "Zabbix hears the level of each step done here, and 0 at the end");
      // and what was found on disk says so too
      assert.equal(new LadderStore(dir).load().ladders[0].history[1].outcome, "interrupted");
    } finally {
      await ladders.stop();
    }
    writeFileSync(join(dir, "ladders.json"), "{not json");
    assert.throws(() => new LadderStore(dir).load(), /ladder state .* is damaged/);
  });

  it("with high availability, a step is carried out only once its in-flight mark is in etcd (persist); until then it waits, counted", async () => {
    const { dir, membership, alerts, actions, sent } = unhealthyGuestWith({ id: "L2", uuid: UUID, name: "web1", host: "hv1", startedAt: 1, steps: ["notify", "reboot"], next: 1, dueAt: 0, status: "running", history: [{ step: 0, what: "notify", at: 1, outcome: "ok" }], evidence: "{}" });
    let inEtcd = false;
    const seenByPersist: (number | undefined)[] = [];
    const store = new LadderStore(dir);
    const ladders = new Ladders({
      policy: parseLadderPolicy({ mode: "act", default: ["notify"] }, "p"), store, alerts, membership, actions, audit: { record: () => undefined },
      webhooks: new LadderWebhooks([], silentLogger()), log: silentLogger(), tickMs: 20,
      persist: async () => {
        seenByPersist.push(store.load().ladders[0].inFlight); // what a new leader would restore
        return inEtcd;
      },
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(sent, [], "not in etcd: not done");
      assert.ok(ladders.counters.persistFailures >= 2, `${ladders.counters.persistFailures} waits counted`);
      assert.equal(ladders.list()[0].inFlight, undefined, "not marked in flight meanwhile");
      inEtcd = true;
      for (let i = 0; i < 50 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(sent, ["reboot"]);
      assert.ok(seenByPersist.every((m) => m === 1), "each persist saw the step marked in flight on disk first");
    } finally {
      await ladders.stop();
    }
  });
});
