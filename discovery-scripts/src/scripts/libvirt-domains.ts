#!/usr/bin/env node
import { collectLibvirtDomains } from "../collectors/libvirt-domains.js";
import { runScript } from "../document.js";

await runScript({
  discovertype: "libvirt-domains",
  description: "libvirt domains with state, vCPUs, memory, disks, NICs and the guest addresses seen on them",
  source: "libvirt-domains",
}, () => collectLibvirtDomains());
