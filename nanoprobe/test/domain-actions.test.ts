/**
 * Signed DomainActions on a real libvirt (the test driver, a fixture of 4 domains) through a real
 * nanoprobe over real UDP: done once and answered with the state after; refused, with nothing done
 * to any domain, when unsigned, for another host, expired, replayed, or for a domain this
 * hypervisor does not run.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Endpoint, Keyring, decodeEnvelope, encodeEnvelope, makeClusterKey, signCommand, silentLogger, generateHostKeys, newKeyPair } from "@ringwatch/shared";
import type { CommandResult, InboundMessage } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { Nanoprobe, nanoprobeConfig } from "../src/index.js";

describe("nanoprobe: signed domain actions on libvirt (test driver)", function () {
  this.timeout(30_000);
  const keyring = new Keyring("np-act", makeClusterKey(randomBytes(32)));
  const cmaKeys = newKeyPair("ed25519");
  let fx: Fixture, cma: Endpoint, np: Nanoprobe;
  const results: CommandResult[] = [];
  let running: string, other: string;

  before(async () => {
    fx = writeFixture(4);
    running = fx.domains.find((d) => d.state === "running")!.uuid;
    other = fx.domains.find((d) => d.state === "running" && d.uuid !== running)!.uuid;
    cma = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    cma.on("message", (m: InboundMessage) => {
      const env = decodeEnvelope(m.payload);
      if (env.commandResult) results.push(env.commandResult);
    });
    const cfg = nanoprobeConfig({ identity: "hv1", cluster: "np-act", cma: `127.0.0.1:${cma.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 200, heartbeatMs: 100, statusIntervalMs: 0, discoveryDir: "", libvirtUri: fx.uri });
    np = await Nanoprobe.start(cfg, { keyring, cmaPublicKey: cmaKeys.publicKey, log: silentLogger(), hostKeys: generateHostKeys() });
    await waitUntil(() => np.hypervisor?.connected === true, 10_000, "libvirt connected");
  });
  after(async () => {
    await np?.stop();
    await cma?.close();
    fx?.cleanup();
  });

  const send = (command: ReturnType<typeof signCommand>) => cma.send(np.endpoint.address(), encodeEnvelope({ command }));
  const stateOf = async (uuid: string) => (await np.hypervisor!.conn!.domainInfo(uuid)).state;
  /** sends and waits for this command's own result */
  async function act(command: ReturnType<typeof signCommand>): Promise<CommandResult> {
    const before = results.length;
    await send(command);
    await waitUntil(() => results.length > before, 10_000, "a result");
    return results[results.length - 1];
  }
  const signed = (uuid: string, action: string, over: Partial<{ target: string; expiresAtMs: number; issuedAtMs: number }> = {}) =>
    signCommand(cmaKeys.privateKey, { target: "hv1", domainAction: { uuid, action }, ...over });

  it("destroy, then start: each done once, answered with the domain's state after it", async () => {
    const destroy = signed(running, "destroy");
    const r = await act(destroy);
    assert.deepEqual([r.ok, r.error, r.domainState], [true, "", "shutoff"]);
    assert.equal(await stateOf(running), "shutoff");
    const replay = await act(destroy);
    assert.equal(replay.ok, false);
    assert.match(replay.error, /replayed/);
    const start = await act(signed(running, "start"));
    assert.deepEqual([start.ok, start.domainState], [true, "running"]);
    assert.equal(await stateOf(running), "running", "the replayed destroy did nothing");
    assert.equal(np.counters.domainActionsDone, 2);
  });

  it("a reset of a paused guest (as a crashed one stays) resumes it too", async () => {
    assert.equal((await act(signed(other, "suspend"))).domainState, "paused");
    const r = await act(signed(other, "reset"));
    assert.deepEqual([r.ok, r.domainState], [true, "running"]);
    assert.equal(await stateOf(other), "running");
  });

  it("refuses, doing nothing: a rogue signature, another host's command, an expired one, a domain not here, an unknown action", async () => {
    const refusedBefore = np.counters.commandsRefused;
    const rogue = await act(signCommand(newKeyPair("ed25519").privateKey, { target: "hv1", domainAction: { uuid: other, action: "destroy" } }));
    assert.match(rogue.error, /badSignature/);
    const elsewhere = await act(signed(other, "destroy", { target: "hv2" }));
    assert.match(elsewhere.error, /wrongTarget/);
    const expired = await act(signed(other, "destroy", { issuedAtMs: Date.now() - 120_000, expiresAtMs: Date.now() - 60_000 }));
    assert.match(expired.error, /expired/);
    assert.equal(np.counters.commandsRefused - refusedBefore, 3);
    assert.deepEqual([np.verifier.refused.badSignature, np.verifier.refused.wrongTarget, np.verifier.refused.expired], [1, 1, 1]);

    const notHere = await act(signed("00000000-0000-4000-8000-00000000beef", "destroy"));
    assert.deepEqual([notHere.ok, /has no domain/.test(notHere.error)], [false, true], notHere.error);
    const bad = await act(signed(other, "format-disk"));
    assert.deepEqual([bad.ok, /unknown action/.test(bad.error)], [false, true], bad.error);
    assert.deepEqual({ ...np.counters.domainActionsFailed }, { badAction: 1, noHypervisor: 0, unknownDomain: 1, libvirtError: 0 });
    for (const d of fx.domains) assert.equal(await stateOf(d.uuid), d.state, `${d.name} untouched`);
  });

  it("a libvirt refusal is the answer, not a crash: start on a running domain", async () => {
    const r = await act(signed(other, "start"));
    assert.equal(r.ok, false);
    assert.match(r.error, /libvirt refused start/);
    assert.equal(np.counters.domainActionsFailed.libvirtError, 1);
    assert.equal(await stateOf(other), "running");
  });
});
