export * from "./agent.js";
export * from "./config.js";
