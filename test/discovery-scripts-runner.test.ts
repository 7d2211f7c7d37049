import assert from "node:assert/strict";
import { DiscoveryRunner, defaultDiscoveryScripts, type DiscoveryDocumentEvent, type DiscoveryError } from "@ringwatch/nanoprobe";
import { REPO } from "./support/processes.js";

const BIN = `${REPO}discovery-scripts/bin/`;

describe("discovery-scripts under the nanoprobe's runner", function () {
  this.timeout(30_000);

  it("every shipped script yields a valid document (libvirt: test driver)", async () => {
    // guest-flows captures for its whole window: one second is enough to prove the document
    const runner = new DiscoveryRunner({ scripts: defaultDiscoveryScripts(BIN, { LIBVIRT_URI: "test:///default", LLDPCTL: "/nonexistent/lldpctl", GUEST_FLOWS_WINDOW_MS: "1000" }) });
    const docs: DiscoveryDocumentEvent[] = [];
    const errors: DiscoveryError[] = [];
    runner.on("document", (d) => docs.push(d));
    runner.on("error", (e) => errors.push(e));
    try {
      await Promise.all(runner.scriptNames.map((n) => runner.runNow(n)));
    } finally {
      await runner.stop();
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(docs.map((d) => d.document.discovertype).sort(),
      ["cpu-memory", "guest-flows", "libvirt-domains", "lldp", "nics", "os", "tcp-services"]);
    for (const d of docs) console.log(`      ${d.script}: ${d.durationMs} ms, ${JSON.stringify(d.document).length} bytes`);
  });
});
