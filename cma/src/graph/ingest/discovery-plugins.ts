/** The discovery plugins, one per discovertype; a document of another type is kept by the discovery store but not graphed. */
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { cpuMemoryIngest } from "./cpu-memory.js";
import { libvirtDomainsIngest } from "./libvirt-domains.js";
import { lldpIngest } from "./lldp.js";
import { nicsIngest } from "./nics.js";
import { osIngest } from "./os.js";
import { tcpServicesIngest } from "./tcp-services.js";
import { guestFlowsIngest } from "./guest-flows.js";

export const discoveryPlugins: ReadonlyMap<string, DiscoveryIngest> = new Map(
  [osIngest, cpuMemoryIngest, nicsIngest, tcpServicesIngest, libvirtDomainsIngest, lldpIngest, guestFlowsIngest].map((p) => [p.discovertype, p]),
);
