// @ringwatch/nanoprobe public API.
export * from "./agent.js";
export * from "./config.js";
export * from "./libvirt/index.js";
export * from "./sim/simulator.js";
export * from "./discovery/index.js";
