#!/usr/bin/env node
import { collectGuestFlows } from "../collectors/guest-flows.js";
import { runScript } from "../document.js";

await runScript({
  discovertype: "guest-flows",
  description: "TCP services the running guests answer on and the services they connect to, seen from the hypervisor (handshake capture, conntrack)",
  source: "guest-flows",
}, () => collectGuestFlows());
