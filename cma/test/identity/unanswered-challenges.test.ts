/**
 * Senders challenged and not answering are said at warn (identity/unanswered-challenges.ts), but a
 * host that answers is not, even when several of its frames were challenged before its cookie came
 * back (after a failover, thousands of hosts at once).
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "pino";
import { UnansweredChallenges } from "../../src/identity/unanswered-challenges.js";

function recordingLogger(): { log: Logger; warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const l = JSON.parse(chunk.toString()) as Record<string, unknown>;
      if ((l.level as number) >= 40) warnings.push(l);
      done();
    },
  });
  return { log: pino({ level: "info" }, sink) as Logger, warnings };
}

const from = { address: "127.0.0.5", port: 1984 };
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("cma/identity/unanswered-challenges", () => {
  it("a host whose frames were challenged in a burst and which then answered is not named", async () => {
    const { log, warnings } = recordingLogger();
    const u = new UnansweredChallenges(log);
    const t0 = 1_000_000;
    for (let i = 0; i < 6; i++) u.challenged("hv1", from, t0 + i * 10); // acks and a report in flight, all challenged
    u.proven("hv1", from); // its answer, with the cookie
    u.challenged("hv1", from, t0 + 6_000); // a stray copy of an old frame, long after
    await settle();
    assert.equal(u.unanswered, 0);
    assert.deepEqual(warnings, []);
  });

  it("a sender still unproven 5 s after its first challenge is named once, not at every challenge", async () => {
    const { log, warnings } = recordingLogger();
    const u = new UnansweredChallenges(log);
    const t0 = 1_000_000;
    for (let s = 0; s < 5; s++) u.challenged("old-hv", from, t0 + s * 1000); // announcing every second, never answering
    assert.equal(u.unanswered, 0, "not yet: it may still answer");
    for (let s = 5; s < 50; s++) u.challenged("old-hv", from, t0 + s * 1000);
    await settle();
    assert.equal(u.unanswered, 1);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].host, "old-hv");
    assert.equal(warnings[0].addr, "127.0.0.5:1984");
  });
});
