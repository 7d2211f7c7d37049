// @ringwatch/discovery-scripts: the collectors behind the executables, for tests and reuse.
export const DISCOVERY_SCRIPTS_VERSION = "0.1.0";
export * from "./document.js";
export * from "./collectors/os.js";
export * from "./collectors/cpu-memory.js";
export * from "./collectors/nics.js";
export * from "./collectors/tcp-services.js";
export * from "./collectors/libvirt-domains.js";
export * from "./collectors/lldp.js";
export * from "./guest-addresses/guest-addresses.js";
export { AddressProblems } from "./guest-addresses/problems.js";
export type { AddressSource } from "./guest-addresses/sighting.js";
export * from "./tcp/proc-net-tcp.js";
export { socketOwners, ProcessInfoCache, type ProcessInfo } from "./tcp/socket-owners.js";
export * from "./collectors/guest-flows.js";
