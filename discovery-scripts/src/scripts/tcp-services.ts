#!/usr/bin/env node
import { collectTcpServices } from "../collectors/tcp-services.js";
import { runScript } from "../document.js";

await runScript({
  discovertype: "tcp-services",
  description: "Listening TCP services and aggregated client connections with their processes, from /proc",
  source: "tcp-services",
}, () => collectTcpServices());
