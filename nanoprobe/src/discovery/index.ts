export * from "./types.js";
export * from "./defaults.js";
export * from "./runner.js";
export { parseDocument, type ParseResult } from "@ringwatch/shared";
export { stableHash, stableStringify } from "./stable-hash.js";
export { shippedDiscoveryRunner } from "./shipped-runner.js";
