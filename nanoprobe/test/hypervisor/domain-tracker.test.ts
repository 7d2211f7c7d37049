import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { LibvirtConnection } from "@ringwatch/libvirt";
import { DomainTracker } from "../../src/hypervisor/domain-tracker.js";
import type { DomainChange } from "../../src/hypervisor/domain-tracker.js";
import { writeFixture, type Fixture } from "@ringwatch/libvirt/test-driver-fixture";

describe("nanoprobe/hypervisor/domain-tracker (test driver, 30 domains)", () => {
  let fx: Fixture;
  let conn: LibvirtConnection;
  let tracker: DomainTracker;
  const changes: DomainChange[][] = [];
  before(async () => {
    fx = writeFixture(30);
    conn = await LibvirtConnection.open(fx.uri);
    tracker = new DomainTracker(conn, silentLogger());
    tracker.on("changes", (c) => changes.push(c));
  });
  after(async () => {
    await conn?.close();
    fx?.cleanup();
  });

  it("discovers every domain with its vCPUs, memory, disks and NICs at start", async () => {
    const first = await tracker.refresh();
    assert.equal(first.length, 30);
    assert.ok(first.every((c) => c.kind === "appeared"));
    for (const want of fx.domains) {
      const got = tracker.snapshot().find((d) => d.name === want.name);
      assert.ok(got, want.name);
      assert.equal(got.vcpus, want.vcpus);
      assert.deepEqual(got.disks.map((d) => d.target), want.disks.map((d) => d.target));
      assert.deepEqual(got.disks.map((d) => d.source), want.disks.map((d) => d.source));
      assert.deepEqual(got.nics.map((n) => n.mac), want.nics.map((n) => n.mac));
      assert.deepEqual(got.nics.map((n) => n.bridge || n.network), want.nics.map((n) => n.bridge ?? n.network));
    }
    assert.deepEqual(await tracker.refresh(), [], "nothing changed: nothing reported");
  });

  it("sees a domain destroyed and one started from lifecycle events, at once", async () => {
    await tracker.watch();
    const running = tracker.snapshot().filter((d) => d.state === "running");
    const stopped = tracker.snapshot().filter((d) => d.state === "shutoff");
    assert.ok(running.length > 0 && stopped.length > 0);
    const n0 = changes.length;
    await conn.action(running[0].uuid, "destroy");
    await conn.action(stopped[0].uuid, "create");
    await waitUntil(() => tracker.get(running[0].uuid)?.state === "shutoff" && tracker.get(stopped[0].uuid)?.state === "running", 3000, "both changes");
    const seen = changes.slice(n0).flat().filter((c) => c.kind === "changed").map((c) => (c.kind === "changed" ? c.domain.name : ""));
    assert.ok(seen.includes(running[0].name) && seen.includes(stopped[0].name));
  });

  it("refreshes when a sampling pass sees a domain it does not track", async () => {
    const before = tracker.refreshes;
    tracker.observe(["00000000-0000-0000-0000-00000000beef"]);
    await waitUntil(() => tracker.refreshes > before, 2000, "a refresh");
    const r = tracker.refreshes;
    tracker.observe(tracker.snapshot().filter((d) => d.state === "running").map((d) => d.uuid));
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(tracker.refreshes, r, "the same set: no refresh");
  });
});
