#!/usr/bin/env node
import { collectNics } from "../collectors/nics.js";
import { runScript } from "../document.js";

await runScript({ discovertype: "nics", description: "Network interfaces with MAC, MTU, state, kind, master and addresses", source: "nics" }, collectNics);
