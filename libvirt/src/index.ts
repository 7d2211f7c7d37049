export * from "./types.js";
export * from "./errors.js";
export * from "./counter-rate.js";
export * from "./domain-xml.js";
export * from "./stats-fallback.js";
export * from "./lifecycle.js";
export * from "./connection.js";
export { addonPath, loadBinding } from "./binding.js";
export type { NativeBinding, NativeConnection, NativeFallback, NativeLifecycleEvent } from "./binding.js";
