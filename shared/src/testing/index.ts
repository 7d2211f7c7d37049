// @ringwatch/shared/testing: tooling for tests and benchmarks, kept out of the production entry.
export * from "./impairment-proxy.js";
export * from "./unused-tcp-port.js";
export * from "./wait.js";
