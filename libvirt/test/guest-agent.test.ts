/**
 * The guest-agent surface of the binding on libvirt's test driver, which has no agent: every agent
 * call fails with libvirt's own code (NO_SUPPORT), sorted as "noAgent", never as the guest not
 * answering; argument errors are TypeErrors; the agent channel is read from the domain XML. The
 * answering and silent agents are tested on a real libvirtd with a real guest (test/guest-agent.test.ts).
 */
import assert from "node:assert/strict";
import { LibvirtError, LibvirtErrorCode } from "../src/errors.js";
import { agentFailure, hasGuestAgentChannel } from "../src/guest-agent.js";
import { useTestDriver } from "./fixtures/test-driver-connection.js";

describe("libvirt/guest agent (test driver)", () => {
  const td = useTestDriver(10);

  it("finds the org.qemu.guest_agent.0 channel in the domain XML, and only there", async () => {
    for (const d of td.fx.domains) assert.equal(hasGuestAgentChannel(await td.conn.domainXml(d.uuid)), d.agentChannel, d.name);
    assert.ok(td.fx.domains.some((d) => d.agentChannel) && td.fx.domains.some((d) => !d.agentChannel));
    assert.equal(hasGuestAgentChannel("<domain><devices><channel type='unix'><target type='virtio' name='org.qemu.spice.0'/></channel></devices></domain>"), false);
  });

  it("an agent command on a driver without an agent fails with libvirt's code: noAgent, not an unanswered agent", async () => {
    const d = td.fx.domains.find((x) => x.agentChannel && x.state === "running")!;
    const err = await td.conn.agentPing(d.uuid, 1).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LibvirtError, String(err));
    assert.equal(err.code, LibvirtErrorCode.NO_SUPPORT);
    assert.match(err.message, /not supported/);
    assert.equal(agentFailure(err), "noAgent");
  });

  it("sorts libvirt's codes: the agent not answering is the guest's, everything else is not", () => {
    const e = (code: number) => new LibvirtError("x", code, 10);
    assert.equal(agentFailure(e(LibvirtErrorCode.AGENT_UNRESPONSIVE)), "unresponsive");
    assert.equal(agentFailure(e(LibvirtErrorCode.AGENT_UNSYNCED)), "unresponsive");
    assert.equal(agentFailure(e(LibvirtErrorCode.ARGUMENT_UNSUPPORTED)), "noAgent");
    assert.equal(agentFailure(e(LibvirtErrorCode.OPERATION_INVALID)), "notRunning");
    assert.equal(agentFailure(e(LibvirtErrorCode.NO_DOMAIN)), "notRunning");
    for (const code of [LibvirtErrorCode.SYSTEM_ERROR, LibvirtErrorCode.INVALID_CONN, LibvirtErrorCode.INTERNAL_ERROR, -1]) assert.equal(agentFailure(e(code)), "libvirt");
    assert.equal(agentFailure(new Error("socket closed")), "libvirt");
  });

  it("an unknown domain is NO_DOMAIN; bad arguments are TypeErrors; a closed connection is the monitor's own failure", async () => {
    const gone = await td.conn.agentPing("5e1f0000-0000-4000-8000-0000000000ff", 1).then(() => undefined, (e: unknown) => e);
    assert.ok(gone instanceof LibvirtError);
    assert.equal(gone.code, LibvirtErrorCode.NO_DOMAIN);
    const uuid = td.fx.domains[0].uuid;
    await assert.rejects(td.conn.agentCommand(uuid, "", 1), TypeError);
    await assert.rejects(td.conn.agentPing(uuid, 1.5), TypeError);
    await assert.rejects(td.conn.agentPing(uuid, 99_999), TypeError);
    const { LibvirtConnection } = await import("../src/connection.js");
    const other = await LibvirtConnection.open(td.fx.uri);
    await other.close();
    const closed = await other.agentPing(uuid, 1).then(() => undefined, (e: unknown) => e);
    assert.equal(agentFailure(closed), "libvirt");
  });
});
