/**
 * Leader election and the state mirror on the real 3-member etcd (scripts/etcd.sh): who leads, the
 * epoch that orders leaders, a frozen leader that knows it is deposed the moment it runs again, and
 * state that only the current leader can write. In-process, with real etcd3 clients.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { Etcd3 } from "etcd3";
import { CmaMembers, LeaderElection, MAX_VALUE_BYTES, StateMirror, advertisedAddress } from "@ringwatch/cma";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { ensureEtcd, freshPrefix } from "./support/etcd.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("high availability: leader election and the state mirror on a real etcd", function () {
  this.timeout(60_000);
  let client: Etcd3;
  const elections: LeaderElection[] = [];
  const dirs: string[] = [];
  before(async () => {
    client = new Etcd3({ hosts: (await ensureEtcd()).split(","), dialTimeout: 2000 });
  });
  afterEach(async () => {
    for (const e of elections.splice(0)) {
      await e.resign();
      e.stop();
    }
  });
  after(() => {
    client?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const election = (key: string, id: string, leaseSeconds = 2): LeaderElection => {
    const e = new LeaderElection(client, { key, id, leaseSeconds, pollMs: 50 }, silentLogger());
    elections.push(e);
    return e;
  };

  it("one leads, the other stands by; on resignation the standby leads with a higher epoch", async () => {
    const key = `${freshPrefix("election")}/leader`;
    const a = election(key, "a"), b = election(key, "b");
    const first = await a.campaign();
    let bEpoch = 0;
    void b.campaign().then((e) => (bEpoch = e), () => undefined);
    await sleep(500);
    assert.equal(bEpoch, 0, "the standby does not lead while the leader holds the key");
    assert.ok(a.holds());
    assert.equal(b.holds(), false);
    const kv = (await client.get(key).exec()).kvs[0];
    assert.equal(Number(kv.create_revision), first, "the epoch is the leader key's create revision");
    assert.equal(kv.value.toString(), "a");
    await a.resign();
    assert.equal(a.holds(), false);
    await waitUntil(() => bEpoch > 0, 5000, "the standby leads after the resignation");
    assert.ok(bEpoch > first, `epochs only grow: ${bEpoch} after ${first}`);
    assert.ok(b.holds());
  });

  it("a leader frozen past its lease knows it is deposed the moment it runs again; the standby leads meanwhile", async () => {
    const key = `${freshPrefix("frozen")}/leader`;
    const a = election(key, "a"), b = election(key, "b");
    const first = await a.campaign();
    let deposedWhy = "";
    a.on("deposed", (why) => (deposedWhy = why));
    // the standby runs in another process in real life: here its campaign is started after the
    // freeze and finds the key gone (etcd expired the lease while this loop was blocked)
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      // a frozen process: no timer of its own runs, no renewal goes out
    }
    assert.equal(a.holds(), false, "the first question after the freeze is answered no");
    assert.match(deposedWhy, /not renewed in time/);
    assert.equal(a.epoch, 0);
    const second = await b.campaign();
    assert.ok(second > first);
    await sleep(300);
    assert.equal(a.holds(), false, "the deposed leader stays deposed");
  });

  it("a leader whose key was deleted by hand is deposed at its next renewal", async () => {
    const key = `${freshPrefix("deleted")}/leader`;
    const a = election(key, "a");
    await a.campaign();
    const deposed = new Promise<string>((r) => a.once("deposed", r));
    await client.delete().key(key).exec();
    assert.match(await deposed, /leader key is gone/);
    assert.equal(a.holds(), false);
  });

  it("the state mirror: changed files in one fenced transaction, nothing when nothing changed, restored byte for byte elsewhere", async () => {
    const prefix = freshPrefix("mirror");
    const key = `${prefix}/leader`, statePrefix = `${prefix}/state/`;
    const a = election(key, "a");
    const epoch = await a.campaign();
    const dir = mkdtempSync(join(tmpdir(), "rw-mirror-a-"));
    dirs.push(dir);
    const today = new Date().toISOString().slice(0, 10);
    mkdirSync(join(dir, "audit"));
    writeFileSync(join(dir, "membership.json"), JSON.stringify({ version: 1, hosts: [{ name: "hv1" }] }));
    writeFileSync(join(dir, "host-keys.json"), '{"pins":[]}');
    writeFileSync(join(dir, `audit/audit-${today}.jsonl`), '{"seq":1}\n');
    writeFileSync(join(dir, "unrelated.txt"), "not state"); // not one of the mirrored files
    const mirror = new StateMirror(client, statePrefix, dir, silentLogger());
    const fence = { leaderKey: key, epoch };
    await mirror.sync(fence);
    assert.equal(mirror.counters.writes, 1, "three files, one transaction");
    assert.equal(mirror.counters.filesWritten, 3);
    await mirror.sync(fence);
    assert.equal(mirror.counters.writes, 1, "nothing changed: nothing written");
    writeFileSync(join(dir, "host-keys.json"), '{"pins":[]}'); // rewritten with the same content
    await mirror.sync(fence);
    assert.equal(mirror.counters.writes, 1, "same content: nothing written");
    writeFileSync(join(dir, "membership.json"), JSON.stringify({ version: 1, hosts: [{ name: "hv1" }, { name: "hv2" }] }));
    await mirror.sync(fence);
    assert.equal(mirror.counters.writes, 2);
    assert.equal(mirror.counters.filesWritten, 4);

    // with Zabbix, the stream positions a new leader gets are those Zabbix confirmed, not those accepted
    writeFileSync(join(dir, "stats-streams.json"), '{"version":1,"hosts":{"hv1":{"stream":7,"lastSeq":12}}}');
    writeFileSync(join(dir, "stats-delivered.json"), '{"version":1,"hosts":{"hv1":{"stream":7,"lastSeq":9}}}');
    await mirror.sync(fence);
    assert.equal(mirror.counters.writes, 3);
    // flush: what was written before the call is in etcd when it resolves (the ladders wait for it)
    writeFileSync(join(dir, "ladders.json"), '{"ladders":[{"inFlight":1}],"actions":[]}');
    assert.equal(await mirror.flush(fence), true);
    assert.equal(gunzipSync((await client.get(`${statePrefix}ladders.json`).buffer())!).toString(), '{"ladders":[{"inFlight":1}],"actions":[]}');
    rmSync(join(dir, "ladders.json"));
    await mirror.flush(fence);

    // another CMA restores it: the same bytes; a stale local file etcd does not hold is removed
    const dirB = mkdtempSync(join(tmpdir(), "rw-mirror-b-"));
    dirs.push(dirB);
    writeFileSync(join(dirB, "ladders.json"), "stale");
    const restored = await new StateMirror(client, statePrefix, dirB, silentLogger()).restore();
    assert.equal(restored.files, 4);
    assert.equal(readFileSync(join(dirB, "stats-streams.json"), "utf8"), readFileSync(join(dir, "stats-delivered.json"), "utf8"), "the new leader starts from the delivered positions");
    for (const f of ["membership.json", "host-keys.json", `audit/audit-${today}.jsonl`]) assert.equal(readFileSync(join(dirB, f), "utf8"), readFileSync(join(dir, f), "utf8"), f);
    assert.throws(() => readFileSync(join(dirB, "ladders.json")), /ENOENT/, "a mirrored file the leader did not have is not kept");
    assert.throws(() => readFileSync(join(dirB, "unrelated.txt")), /ENOENT/);
  });

  it("the state mirror: a deposed leader writes nothing; a file too large is counted, not written; keys outside the data directory are ignored", async () => {
    const prefix = freshPrefix("fence");
    const key = `${prefix}/leader`, statePrefix = `${prefix}/state/`;
    const a = election(key, "a"), b = election(key, "b");
    const epochA = await a.campaign();
    const dir = mkdtempSync(join(tmpdir(), "rw-mirror-fence-"));
    dirs.push(dir);
    writeFileSync(join(dir, "membership.json"), '{"by":"a"}');
    const mirror = new StateMirror(client, statePrefix, dir, silentLogger());
    await mirror.sync({ leaderKey: key, epoch: epochA });
    await a.resign();
    await b.campaign();
    writeFileSync(join(dir, "membership.json"), '{"by":"a, deposed"}');
    assert.equal(await mirror.flush({ leaderKey: key, epoch: epochA }), false, "a deposed leader's flush fails");
    assert.equal(mirror.counters.fenced, 1);
    assert.equal((await client.get(`${statePrefix}membership.json`).buffer())!.length, gzipSync('{"by":"a"}').length, "etcd still holds what a wrote while leading");

    // too large (a limit of 64 KiB here; MAX_VALUE_BYTES as shipped): random bytes do not compress
    const { randomBytes } = await import("node:crypto");
    assert.ok(MAX_VALUE_BYTES >= 32 << 20, "as shipped, tens of MiB compressed are mirrored (chunked)");
    writeFileSync(join(dir, "access.json"), randomBytes(65_536 + 1024));
    const epochB = b.epoch;
    const mirrorB = new StateMirror(client, statePrefix, dir, silentLogger(), 16_384, 65_536);
    await mirrorB.sync({ leaderKey: key, epoch: epochB });
    assert.equal(mirrorB.counters.tooLarge, 1);
    assert.equal(await client.get(`${statePrefix}access.json`).buffer(), null);
    assert.match(mirrorB.lastError, /access\.json is \d+ bytes compressed/);

    // a key that would write outside the data directory, and a value that is not gzip
    await client.put(`${statePrefix}../escape.json`).value(gzipSync("x"));
    await client.put(`${statePrefix}host-keys.json`).value("not gzip");
    const dirC = mkdtempSync(join(tmpdir(), "rw-mirror-c-"));
    dirs.push(dirC);
    writeFileSync(join(dirC, "host-keys.json"), "older local copy");
    const mirrorC = new StateMirror(client, statePrefix, dirC, silentLogger());
    await mirrorC.restore();
    assert.throws(() => readFileSync(join(dirC, "../escape.json")), /ENOENT/);
    assert.equal(mirrorC.counters.restoreErrors, 1);
    assert.throws(() => readFileSync(join(dirC, "host-keys.json")), /ENOENT/, "neither the damaged value nor an older local copy is trusted");
    assert.equal(readFileSync(join(dirC, "membership.json"), "utf8"), '{"by":"a, deposed"}', "the rest is restored (b, leading, mirrored that directory)");
  });

  it("the CMAs' list: each registers its address under its own lease; the list is sorted, malformed entries counted and left out; a clean stop leaves it at once", async () => {
    const prefix = `${freshPrefix("members")}/members/`;
    const a = new CmaMembers(client, { prefix, id: "a", address: "127.0.0.2:1984" }, silentLogger());
    const b = new CmaMembers(client, { prefix, id: "b", address: "127.0.0.1:1984" }, silentLogger());
    const c = new CmaMembers(client, { prefix, id: "c", address: undefined }, silentLogger()); // bound to 0.0.0.0, no haAdvertiseAddress
    try {
      for (const m of [a, b, c]) m.start();
      await waitUntil(() => a.counters.registrations === 1 && b.counters.registrations === 1, 5000, "both registered");
      await client.put(`${prefix}hand-edit`).value("not an address");
      assert.deepEqual(await a.list(), ["127.0.0.1:1984", "127.0.0.2:1984"]);
      assert.equal(a.counters.badEntries, 1);
      const lease = (await client.get(`${prefix}a`).exec()).kvs[0].lease;
      assert.ok(Number(lease) > 0, "bound to a lease: a dead CMA leaves the list when it lapses");
      await b.stop();
      assert.deepEqual(await a.list(), ["127.0.0.2:1984"]);
    } finally {
      await a.stop();
      await c.stop();
    }
    assert.equal(advertisedAddress({ haAdvertiseAddress: "", bindAddress: "0.0.0.0", port: 1984 }), undefined);
    assert.equal(advertisedAddress({ haAdvertiseAddress: "", bindAddress: "10.0.0.5", port: 1984 }), "10.0.0.5:1984");
    assert.equal(advertisedAddress({ haAdvertiseAddress: "cma-b.example:2000", bindAddress: "0.0.0.0", port: 1984 }), "cma-b.example:2000");
    assert.throws(() => advertisedAddress({ haAdvertiseAddress: "cma-b.example", bindAddress: "0.0.0.0", port: 1984 }), /haAdvertiseAddress: expected host:port/);
  });

  it("the state mirror as shipped: 6 MiB of state, past gRPC's 4 MiB per response, is mirrored in chunks and restored byte for byte", async () => {
    const prefix = freshPrefix("big");
    const key = `${prefix}/leader`, statePrefix = `${prefix}/state/`;
    const a = election(key, "a");
    const fence = { leaderKey: key, epoch: await a.campaign() };
    const dir = mkdtempSync(join(tmpdir(), "rw-big-a-"));
    dirs.push(dir);
    const { randomBytes } = await import("node:crypto");
    // incompressible: ~6 MiB gzipped, like the pins and membership of ~25,000 hosts
    const pins = randomBytes(6 << 20).toString("base64");
    writeFileSync(join(dir, "host-keys.json"), pins);
    const mirror = new StateMirror(client, statePrefix, dir, silentLogger()); // default chunk and value limits
    assert.equal(await mirror.sync(fence), true);
    assert.equal(mirror.counters.tooLarge, 0);
    assert.equal(mirror.counters.errors, 0);
    const dirB = mkdtempSync(join(tmpdir(), "rw-big-b-"));
    dirs.push(dirB);
    const restored = await new StateMirror(client, statePrefix, dirB, silentLogger()).restore();
    assert.equal(restored.files, 1);
    assert.ok(restored.bytes > 4 << 20, `${restored.bytes} bytes restored`);
    assert.equal(readFileSync(join(dirB, "host-keys.json"), "utf8"), pins, "restored byte for byte");
  });

  it("the state mirror: a file larger than a chunk goes in content-named chunks under a manifest; restored byte for byte; chunks no manifest lists are deleted, and a damaged one is refused", async () => {
    const prefix = freshPrefix("chunks");
    const key = `${prefix}/leader`, statePrefix = `${prefix}/state/`;
    const a = election(key, "a");
    const fence = { leaderKey: key, epoch: await a.campaign() };
    const dir = mkdtempSync(join(tmpdir(), "rw-chunks-a-"));
    dirs.push(dir);
    const { randomBytes } = await import("node:crypto");
    const pins = randomBytes(5000).toString("base64"); // ~6.7 KB, ~5 KB gzipped: 5 chunks of 1 KiB
    writeFileSync(join(dir, "host-keys.json"), pins);
    const mirror = new StateMirror(client, statePrefix, dir, silentLogger(), 1024, 1 << 20);
    assert.equal(await mirror.sync(fence), true);
    const chunkKeys = async (): Promise<string[]> => Object.keys(await client.getAll().prefix(`${statePrefix}chunks/`).buffers()).sort();
    const first = await chunkKeys();
    assert.equal(first.length, 5, "five chunks");
    assert.equal(mirror.counters.writes, 6, "one transaction per chunk, then the manifest");
    const manifest = JSON.parse((await client.get(`${statePrefix}host-keys.json`).string())!) as { chunks: string[] };
    assert.deepEqual(manifest.chunks.map((c) => `${statePrefix}chunks/${c}`).sort(), first);

    const restoreInto = async (): Promise<{ dir: string; mirror: StateMirror }> => {
      const d = mkdtempSync(join(tmpdir(), "rw-chunks-b-"));
      dirs.push(d);
      const m = new StateMirror(client, statePrefix, d, silentLogger(), 1024, 1 << 20);
      await m.restore();
      return { dir: d, mirror: m };
    };
    assert.equal(readFileSync(join((await restoreInto()).dir, "host-keys.json"), "utf8"), pins, "restored byte for byte");

    // the file changes: new chunks, then the manifest; the old chunks go
    const pins2 = randomBytes(5000).toString("base64");
    writeFileSync(join(dir, "host-keys.json"), pins2);
    await mirror.sync(fence);
    const second = await chunkKeys();
    assert.equal(second.length, 5);
    assert.deepEqual(second.filter((k) => first.includes(k)), [], "no chunk of the old version is left");
    // a leader that died between its chunks and its manifest leaves a chunk nobody lists: the next leader's first pass deletes it
    await client.put(`${statePrefix}chunks/${"0".repeat(64)}`).value("stray");
    const b = await restoreInto();
    assert.equal(readFileSync(join(b.dir, "host-keys.json"), "utf8"), pins2);
    await b.mirror.sync(fence);
    assert.deepEqual(await chunkKeys(), second, "the stray chunk is gone, the listed ones kept");
    // a damaged chunk: the file is not restored (as a value that does not decompress)
    await client.put(second[0]).value("damaged");
    const c = await restoreInto();
    assert.equal(c.mirror.counters.restoreErrors, 1);
    assert.throws(() => readFileSync(join(c.dir, "host-keys.json")), /ENOENT/);
  });
});
