#!/usr/bin/env node
import { collectLldp } from "../collectors/lldp.js";
import { runScript } from "../document.js";

await runScript({ discovertype: "lldp", description: "LLDP neighbours (switches and peers) seen by lldpd", source: "lldp" }, () => collectLldp());
