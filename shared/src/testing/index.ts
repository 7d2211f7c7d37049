// @ringwatch/shared/testing: tooling for tests and benchmarks, kept out of the production entry.
export * from "./impairment-proxy.js";
export * from "./unused-tcp-port.js";
export * from "./wait.js";
export * from "./legacy-stats-batch-v2.js";
