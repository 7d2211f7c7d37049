/**
 * The network-namespace harness itself: three namespaces on one bridge (two in segment 10.199.0.x,
 * one in 10.199.1.x, all in the same /16), real node:dgram processes inside them. Unicast and
 * multicast (224.0.2.5:1984, TTL 1) must flow between namespaces, and destroy() must leave nothing.
 * Needs root; if namespaces cannot be made here the test fails (CI runs as root), it never skips.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { NetnsTopology, REPO, uniquePrefix } from "./support/netns.js";

const UDP = `${REPO}test/dist/fixtures/udp.js`;
const GROUP = "224.0.2.5";
const PORT = 1984;

type Line = Record<string, unknown>;

/** A fixture process in a namespace: its JSON lines, and promises for "ready" and its exit. */
class Fixture {
  readonly lines: Line[] = [];
  readonly stderr: string[] = [];
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let onReady!: () => void;
    this.ready = new Promise((resolve) => (onReady = resolve));
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const l = JSON.parse(text) as Line;
      this.lines.push(l);
      if (l.ready) onReady();
    });
    createInterface({ input: child.stderr! }).on("line", (t) => this.stderr.push(t));
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  /** Resolves when ready, rejects if the process exits first or takes longer than timeoutMs. */
  async waitReady(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.ready,
      this.exited.then((code) => {
        throw new Error(`${this.name} exited (${code}) before it was ready: ${this.stderr.join(" | ")}`);
      }),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} not ready within ${timeoutMs} ms`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  async expectExit(code: number): Promise<void> {
    const got = await this.exited;
    assert.equal(got, code, `${this.name} exit code; output: ${JSON.stringify(this.lines)}; stderr: ${this.stderr.join(" | ")}`);
  }

  get received(): Line[] {
    return this.lines.filter((l) => "data" in l);
  }
}

describe("netns harness: namespaces on a bridge (scripts/netns.sh, test/support/netns.ts)", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix();
  let topo: NetnsTopology | undefined;

  const run = (t: NetnsTopology, ns: string, name: string, ...args: string[]): Fixture =>
    new Fixture(name, t.spawnIn(ns, process.execPath, [UDP, ...args]));

  before(async function () {
    const { ok, message } = NetnsTopology.check();
    if (!ok) {
      throw new Error(
        `network namespaces are not available on this machine, so the netns system tests cannot run ` +
          `(they need root and iproute2; CI runs as root): ${message}`,
      );
    }
    topo = await NetnsTopology.create(prefix, 3, [0, 0, 1]);
  });

  after(async () => {
    await topo?.destroy();
  });

  it("gives each namespace its address in its segment of 10.199.0.0/16", () => {
    assert.deepEqual(topo!.hosts, [
      { ns: `${prefix}0`, address: "10.199.0.10" },
      { ns: `${prefix}1`, address: "10.199.0.11" },
      { ns: `${prefix}2`, address: "10.199.1.12" },
    ]);
    for (const h of topo!.hosts) {
      const addrs = execFileSync("ip", ["-n", h.ns, "-4", "-o", "addr", "show", "dev", "eth0"], { encoding: "utf8" });
      assert.match(addrs, new RegExp(`inet ${h.address.replace(/\./g, "\\.")}/16 `));
    }
  });

  it("carries unicast between namespaces, within and across segments", async () => {
    const t = topo!;
    const [a, b, c] = t.hosts;
    const pairs = [
      [a, b],
      [a, c],
      [c, a],
    ] as const;
    for (const [from, to] of pairs) {
      const recv = run(t, to.ns, `recv@${to.ns}`, "recv", to.address, "5000", "1", "5000");
      await recv.waitReady();
      const send = run(t, from.ns, `send@${from.ns}`, "send", from.address, to.address, "5000", `unicast ${from.ns}->${to.ns}`);
      await send.expectExit(0);
      await recv.expectExit(0);
      assert.deepEqual(
        recv.received.map((l) => [l.from, l.data]),
        [[from.address, `unicast ${from.ns}->${to.ns}`]],
      );
    }
  });

  it(`carries a multicast datagram to ${GROUP}:${PORT} from one namespace to the other two`, async () => {
    const t = topo!;
    const [sender, ...receivers] = t.hosts;
    const recvs = receivers.map((h) => run(t, h.ns, `mrecv@${h.ns}`, "recv", "0.0.0.0", String(PORT), "1", "5000", GROUP, h.address));
    await Promise.all(recvs.map((r) => r.waitReady()));
    const send = run(t, sender.ns, `msend@${sender.ns}`, "send", sender.address, GROUP, String(PORT), "hello group");
    await send.expectExit(0);
    for (const r of recvs) {
      await r.expectExit(0);
      assert.deepEqual(
        r.received.map((l) => [l.from, l.data]),
        [[sender.address, "hello group"]],
        r.name,
      );
    }
  });

  it("destroy() kills processes in the namespaces and removes namespaces, veths and bridge", async () => {
    const t = topo!;
    const lingering = run(t, t.hosts[1].ns, "lingering", "recv", "0.0.0.0", "5001", "1", "50000");
    await lingering.waitReady();
    await t.destroy();
    topo = undefined;
    const code = await Promise.race([lingering.exited, new Promise((r) => setTimeout(() => r("still running"), 5000))]);
    assert.notEqual(code, "still running", "a process inside a namespace outlived destroy()");

    const netns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
    assert.ok(!netns.split("\n").some((l) => l.startsWith(prefix)), `namespaces left: ${netns}`);
    const bridges = execFileSync("ip", ["-o", "link", "show", "type", "bridge"], { encoding: "utf8" });
    assert.ok(!bridges.includes(`${prefix}br`), `bridge left: ${bridges}`);
    const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
    assert.ok(!links.includes(prefix), `links left: ${links}`);
    // destroying again (or a down on nothing) is harmless
    await t.destroy();
  });
});
