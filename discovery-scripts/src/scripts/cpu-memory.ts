#!/usr/bin/env node
import { collectCpuMemory } from "../collectors/cpu-memory.js";
import { runScript } from "../document.js";

await runScript({ discovertype: "cpu-memory", description: "CPU model, count, topology, notable flags and memory capacity", source: "cpu-memory" }, collectCpuMemory);
