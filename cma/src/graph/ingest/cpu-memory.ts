/** discovertype "cpu-memory": CPU model and count, memory capacity. */
import { mergeNodes } from "../write-batch.js";
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { int, objectField, text } from "./input.js";
import { phased } from "./phased.js";

export const cpuMemoryIngest: DiscoveryIngest = {
  discovertype: "cpu-memory",
  build(host, data, at) {
    const cpu = objectField(data, "cpu");
    const memory = objectField(data, "memory");
    return phased({
      nodes: mergeNodes("Host", [{ name: host, cpuModel: text(cpu.model), cpus: int(cpu.count, 0, 1 << 20), memoryKiB: int(memory.totalKiB), updatedAt: at }]),
    });
  },
};
