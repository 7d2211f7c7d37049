#!/usr/bin/env node
import { collectOs } from "../collectors/os.js";
import { runScript } from "../document.js";

await runScript({ discovertype: "os", description: "OS release, kernel, boot time and uptime", source: "os" }, collectOs);
