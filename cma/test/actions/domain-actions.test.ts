import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { DomainActionError, DomainActions, InventoryStore, Membership } from "../../src/index.js";
import { host } from "../http/api-fixture.js";

const UUID = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b";

describe("cma/actions/domain-actions", () => {
  const membership = new Membership(1);
  membership.upsert(host("hv1", "127.0.0.11"));
  const inventory = new InventoryStore(silentLogger());
  inventory.apply("hv1", { full: true, removed: [], atMs: 0, domains: [{ uuid: UUID, name: "web1", state: "running", vcpus: 1, memoryKib: 1024, disks: [], nics: [] }] });
  const sent: { to: string; id: string; uuid: string; action: string }[] = [];

  function actions(send: "ack" | "fail" = "ack"): DomainActions {
    return new DomainActions({
      inventory, membership, log: silentLogger(), answerWaitMs: 300,
      send: async (to, d) => {
        sent.push({ to: to.name, id: d.id, uuid: d.domainAction.uuid, action: d.domainAction.action });
        if (send === "fail") throw new Error("not acknowledged after 5 tries");
      },
    });
  }
  const code = async (p: Promise<unknown>): Promise<string> => p.then(() => "ok", (e: unknown) => (e instanceof DomainActionError ? e.code : `thrown: ${String(e)}`));

  it("answers with the host's result; an answer from another host or address is not taken for it", async () => {
    const a = actions();
    const p = a.request(UUID, "reset");
    await new Promise((r) => setImmediate(r));
    const { id } = sent[sent.length - 1];
    assert.equal(a.onResult({ id: "hv2", address: "127.0.0.11", port: 1984 }, { id, ok: true, error: "", domainState: "running" }), false);
    assert.equal(a.onResult({ id: "hv1", address: "127.0.0.99", port: 1984 }, { id, ok: true, error: "", domainState: "running" }), false);
    assert.equal(a.onResult({ id: "hv1", address: "127.0.0.11", port: 1984 }, { id, ok: true, error: "", domainState: "running" }), true);
    assert.deepEqual(await p, { uuid: UUID, name: "web1", host: "hv1", action: "reset", state: "running", commandId: id });
    assert.equal(a.inFlight, 0);
  });

  it("no answer in time: no-answer; not acknowledged: unreachable; the host's refusal: refused-by-host; each counted", async () => {
    const a = actions();
    assert.equal(await code(a.request(UUID, "reboot")), "no-answer");
    assert.equal(await code(actions("fail").request(UUID, "reboot")), "unreachable");
    const p = a.request(UUID, "start");
    await new Promise((r) => setImmediate(r));
    a.onResult({ id: "hv1", address: "127.0.0.11", port: 1984 }, { id: sent[sent.length - 1].id, ok: false, error: "libvirt refused start: already running" });
    assert.equal(await code(p), "refused-by-host");
    assert.deepEqual({ ...a.counters }, { requested: 2, done: 0, refused: 0, failedOnHost: 1, unanswered: 1 });
    assert.equal(a.inFlight, 0);
  });

  it("refuses without sending: unknown action or domain, a host not alive or in maintenance", async () => {
    const a = actions();
    const n = sent.length;
    assert.equal(await code(a.request(UUID, "explode")), "bad-action");
    assert.equal(await code(a.request("00000000-0000-4000-8000-000000000000", "reset")), "unknown-domain");
    membership.upsert({ ...membership.get("hv1")!, state: "suspect" });
    assert.equal(await code(a.request(UUID, "reset")), "host-not-alive");
    membership.upsert({ ...membership.get("hv1")!, state: "maintenance", maintenance: { until: Date.now() + 60_000, reason: "x", down: false, startedAt: Date.now() } });
    assert.equal(await code(a.request(UUID, "reset")), "host-in-maintenance");
    assert.equal(sent.length, n, "nothing sent");
    assert.equal(a.counters.refused, 4);
  });
});
