export * from "./admission.js";
export * from "./config.js";
export * from "./keygen.js";
