// @ringwatch/nanoprobe public API.
export * from "./libvirt/index.js";
