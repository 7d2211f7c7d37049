import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  Endpoint, Keyring, decodeEnvelope, encodeEnvelope, makeClusterKey, signCommand, generateHostKeys, newKeyPair,
} from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import type { CommandResult, InboundMessage, Logger } from "@ringwatch/shared";
import { pino } from "pino";
import { Nanoprobe, nanoprobeConfig } from "../src/index.js";

const silent = pino({ level: "silent" }) as Logger;

const waitFor = waitUntil;

describe("nanoprobe: commands from the CMA", function () {
  this.timeout(20_000);
  const keyring = new Keyring("np-test", makeClusterKey(randomBytes(32)));
  const cmaKeys = newKeyPair("ed25519");
  let cma: Endpoint;
  let np: Nanoprobe;
  const results: CommandResult[] = [];

  beforeEach(async () => {
    results.length = 0;
    cma = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    cma.on("message", (m: InboundMessage) => {
      const env = decodeEnvelope(m.payload);
      if (env.commandResult) results.push(env.commandResult);
    });
    const cfg = nanoprobeConfig({ identity: "hv1", cluster: "np-test", cma: `127.0.0.1:${cma.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 200, heartbeatMs: 100, statusIntervalMs: 0, discoveryDir: "" });
    np = await Nanoprobe.start(cfg, { keyring, cmaPublicKey: cmaKeys.publicKey, log: silent, hostKeys: generateHostKeys() });
  });
  afterEach(async () => {
    await np.stop();
    await cma.close();
  });

  const neighbours = [{ name: "hv2", address: "127.0.0.1", port: 9 }];
  const send = (command: ReturnType<typeof signCommand>) => cma.send(np.endpoint.address(), encodeEnvelope({ command }));

  it("refuses a command signed by a key other than the CMA's, from a peer holding the cluster key", async () => {
    const rogue = newKeyPair("ed25519").privateKey;
    await send(signCommand(rogue, { target: "hv1", setNeighbours: { neighbours, heartbeatMs: 1000 } }));
    await waitFor(() => results.length === 1, 5000, "result");
    assert.equal(results[0].ok, false);
    assert.match(results[0].error, /badSignature/);
    assert.equal(np.watch.neighbours.length, 0, "neighbours unchanged");
    assert.equal(np.counters.commandsRefused, 1);
    assert.equal(np.verifier.refused.badSignature, 1);
  });

  it("refuses an unsigned (zero signature) or tampered command and one for another host", async () => {
    const good = signCommand(cmaKeys.privateKey, { target: "hv1", setNeighbours: { neighbours, heartbeatMs: 1000 } });
    await send({ body: good.body, signature: Buffer.alloc(64) });
    const tampered = Buffer.from(good.body);
    tampered[tampered.length - 2] ^= 0xff;
    await send({ body: tampered, signature: good.signature });
    await send(signCommand(cmaKeys.privateKey, { target: "hv2", setNeighbours: { neighbours, heartbeatMs: 1000 } }));
    await waitFor(() => results.length === 3, 5000, "results");
    assert.deepEqual(results.map((r) => r.ok), [false, false, false]);
    assert.equal(np.watch.neighbours.length, 0);
    assert.deepEqual({ bad: np.verifier.refused.badSignature, target: np.verifier.refused.wrongTarget }, { bad: 2, target: 1 });
  });

  it("executes a command signed by the CMA key, and refuses its replay", async () => {
    const good = signCommand(cmaKeys.privateKey, { target: "hv1", setNeighbours: { neighbours, heartbeatMs: 1000 } });
    await send(good);
    await waitFor(() => results.length === 1, 5000, "result");
    assert.equal(results[0].ok, true);
    assert.deepEqual(np.watch.neighbours.map((n) => n.name), ["hv2"]);
    await send(good);
    await waitFor(() => results.length === 2, 5000, "second result");
    assert.equal(results[1].ok, false);
    assert.match(results[1].error, /replayed/);
  });

  it("counts undecodable and unexpected messages without crashing", async () => {
    await cma.send(np.endpoint.address(), randomBytes(40));
    await cma.send(np.endpoint.address(), encodeEnvelope({ hello: { host: { name: "x", machineId: "", addresses: [] }, version: "", startedAtMs: 0 } }));
    await waitFor(() => np.counters.badMessages === 2, 5000, "bad messages counted");
    assert.equal(np.endpoint.counters.handlerErrors, 0);
  });
});
