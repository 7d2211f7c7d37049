import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Membership, SnapshotStore, validateSnapshot } from "../../src/index.js";

describe("cma/membership/snapshot-store", () => {
  it("saves and restores membership; hosts that were in the rings await re-announcement", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-snap-"));
    const m = new Membership(1);
    const base = { machineId: "m", port: 1984, segment: "10.0.0.0/24", since: 1, joinedAt: 1, version: "t", assignedKey: "", unconfirmed: false };
    m.upsert({ ...base, name: "a", address: "10.0.0.1", state: "alive" });
    m.upsert({ ...base, name: "b", address: "10.0.0.2", state: "dead" });
    const store = new SnapshotStore(dir);
    store.save(m.toSnapshot());
    const loaded = store.load();
    assert.equal(loaded.error, undefined);
    const m2 = new Membership(1);
    m2.restore(loaded.snapshot!);
    assert.equal(m2.get("a")!.unconfirmed, true);
    assert.equal(m2.get("b")!.state, "dead");
    assert.equal(m2.get("b")!.unconfirmed, false);
  });

  it("moves a corrupt snapshot aside with a clear error instead of trusting or crashing on it", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-snap-"));
    const store = new SnapshotStore(dir);
    writeFileSync(store.path, '{"version":1,"hosts":[{"name":"a","state":"zombie"}]}');
    const r = store.load();
    assert.match(r.error!, /hosts\[0\]/);
    assert.equal(existsSync(store.path), false);
    assert.ok(readdirSync(dir).some((f) => f.startsWith("membership.json.corrupt-")));
    writeFileSync(store.path, "{not json");
    assert.match(store.load().error!, /JSON|Unexpected|Expected/);
    assert.throws(() => validateSnapshot({ version: 2, hosts: [] }), /unknown version/);
    assert.throws(() => validateSnapshot({ version: 1, hosts: [{ name: "a", machineId: "", address: "x", port: 70000, segment: "s", state: "alive", since: 0, joinedAt: 0, version: "", assignedKey: "" }] }), /port/);
  });
});
