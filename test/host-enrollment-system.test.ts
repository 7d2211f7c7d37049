/**
 * One-time enrollment across real processes: a CMA with hostKeyPolicy enrolled and no hostKeysFile
 * (tokens only), an admin making tokens through the CLI (which talks to the running CMA's HTTP
 * API), and real nanoprobes on loopback. hv1 and hv2, started with their tokens, are admitted,
 * pinned and form their ring; a second "hv1" (another key, at another address) with hv1's token is
 * refused as a spent token, counted and raised, hv1 unchanged; hv3 with no token stays out.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyFingerprint, readHostKeys } from "@ringwatch/shared";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { loopbackCluster } from "./support/loopback-cluster.js";
import { offlineToken } from "./support/access.js";

const TIMING = { heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 3000 };
const FAST = { RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_CONTROL_SOCKET: "off" };

interface Status { hostKeys: { policy: string; pins: Record<string, number>; refused: Record<string, number>; enrolledByToken: number; enrollmentsOutstanding: number } }

describe("system: hosts enrolled with one-time tokens (real CMA, CLI and nanoprobes)", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-enroll-sys-"));
  const fx = writeFixture(3);
  const procs: RunningProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a token made with the CLI admits its host once: it joins its ring; the same token with another key is refused and counted; no token, no admission", async () => {
    const cluster = await loopbackCluster(dir, "enrolltest", TIMING, fx.uri);
    const cred = await offlineToken(join(dir, "cma-state"), "admin");
    const cma = startProcess("cma", CMA_CLI, ["run"], cluster.cmaEnv({ ...FAST, RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", RINGWATCH_HOST_KEY_POLICY: "enrolled" }));
    procs.push(cma);
    const url = String((await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA started")).http);
    const get = async <T>(path: string): Promise<T> => {
      const r = await fetch(`${url}${path}`, { headers: cred.auth });
      assert.equal(r.status, 200, `GET ${path}: ${r.status}`);
      return (await r.json()) as T;
    };
    const status = (): Promise<Status> => get<Status>("/api/status");
    const ringMembers = async (): Promise<string> => (await get<{ segments: { members: string[] }[] }>("/api/rings")).segments.flatMap((s) => s.members).sort().join();
    const cli = (...args: string[]) => runToExit(CMA_CLI, ["host-keys", ...args, "--url", url, "--token-file", cred.tokenFile]);
    const keyFile = (id: string): string => join(dir, `${id}.key`);
    const nanoprobe = (id: string, i: number, extra: Record<string, string> = {}): RunningProcess => {
      const p = startProcess(`${id}@${i}`, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, i, { RINGWATCH_IDENTITY_KEY_FILE: keyFile(`${id}-${i}`), RINGWATCH_JOIN_BACKOFF_MAX_MS: "600", ...extra }));
      procs.push(p);
      return p;
    };

    // the admin makes the tokens: printed once, alone on stdout
    const tokenFile = (id: string): string => join(dir, `${id}.token`);
    for (const id of ["hv1", "hv2"]) {
      const made = await cli("enroll", id, "--ttl", "10m");
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, /^[A-Za-z0-9_-]{43}\n$/);
      assert.match(made.stderr, new RegExp(`enrollment token for ${id}, one host, once, until `));
      writeFileSync(tokenFile(id), made.stdout, { mode: 0o600 });
    }
    const token1 = readFileSync(tokenFile("hv1"), "utf8").trim();
    const bad = await cli("enroll", "hv1", "--ttl", "8d");
    assert.equal(bad.code, 1, "beyond 7 days: the CMA refuses");
    assert.match(bad.stderr, /HTTP 400/);
    const listed = await cli("enrollments");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^policy: enrolled; 2 enrollment\(s\)/);
    assert.equal(listed.stdout.includes(token1), false, "a listing never shows a token");
    assert.deepEqual((await status()).hostKeys.enrollmentsOutstanding, 2);

    // hv1 and hv2 with their tokens: admitted, pinned, one ring
    nanoprobe("hv1", 0, { RINGWATCH_ENROLLMENT_TOKEN_FILE: tokenFile("hv1") });
    nanoprobe("hv2", 1, { RINGWATCH_ENROLLMENT_TOKEN_FILE: tokenFile("hv2") });
    await cma.until(async () => ((await ringMembers()) === "hv1,hv2" ? true : undefined), 20_000, "hv1 and hv2 in the ring");
    const pins = (await get<{ pins: { name: string; state: string; pinnedBy: string; fingerprint: string }[] }>("/api/host-keys")).pins;
    assert.deepEqual(pins.map((p) => [p.name, p.state, p.pinnedBy]), [["hv1", "pinned", "enrollment token"], ["hv2", "pinned", "enrollment token"]]);
    assert.equal(pins[0]!.fingerprint, keyFingerprint(readHostKeys(keyFile("hv1-0")).identityPublic));
    const spent = await cli("enrollments", "--json");
    assert.deepEqual((JSON.parse(spent.stdout) as { enrollments: { name: string; state: string }[] }).enrollments.map((e) => `${e.name} ${e.state}`), ["hv1 used", "hv2 used"]);

    // a second hv1, its own key, hv1's token: the token is spent
    nanoprobe("hv1", 2, { RINGWATCH_ENROLLMENT_TOKEN_FILE: tokenFile("hv1") });
    // hv3 with no token
    nanoprobe("hv3", 3);
    await cma.until(async () => {
      const r = (await status()).hostKeys.refused;
      return r.enrollmentUsed! >= 1 && r.notEnrolled! >= 1 ? true : undefined;
    }, 15_000, "the second hv1 and hv3 refused");
    await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostKeyMismatch" && l.host === "hv1", 5000, "the claim on hv1 raised");
    const hosts = (await get<{ hosts: { name: string; address: string }[] }>("/api/hosts")).hosts;
    assert.deepEqual(hosts.map((h) => `${h.name} ${h.address}`).sort(), ["hv1 127.0.0.2", "hv2 127.0.0.3"], "hv1 unchanged, hv3 not a member");
    assert.equal(await ringMembers(), "hv1,hv2");
    const st = (await status()).hostKeys;
    assert.deepEqual([st.enrolledByToken, st.enrollmentsOutstanding, st.pins.pinned], [2, 0, 2]);

    // audited without the token; an admin can cancel an enrollment
    const audit = await get<{ entries: { action: string; target?: string; outcome: string; detail?: unknown }[] }>("/api/audit");
    const mine = audit.entries.filter((e) => e.action.startsWith("hostKeyEnroll")).map((e) => `${e.action} ${e.target} ${e.outcome}`).sort();
    assert.deepEqual(mine, ["hostKeyEnroll hv1 ok", "hostKeyEnroll hv2 ok", "hostKeyEnrolled hv1 ok", "hostKeyEnrolled hv2 ok"].sort());
    assert.equal(JSON.stringify(audit).includes(token1), false, "no token in the audit log");
    const hv4 = await cli("enroll", "hv4");
    assert.equal(hv4.code, 0, hv4.stderr);
    const cancel = await cli("cancel", "hv4");
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, "hv4: enrollment cancelled\n");
    assert.equal((await cli("cancel", "hv4")).code, 1, "nothing left to cancel");
    console.log(`      refused by reason: ${JSON.stringify(st.refused)}`);
  });
});
