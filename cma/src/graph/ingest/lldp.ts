/**
 * discovertype "lldp": the switches (Switch, keyed by chassis id, else name) the host's
 * interfaces are plugged into. The interface's NIC node is merged here too, so the link holds
 * whichever of "nics" and "lldp" arrives first. Links no longer seen are dropped.
 */
import { mergeNodes, mergeRels } from "../write-batch.js";
import type { Row } from "../write-batch.js";
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { bool, isObject, listField, text } from "./input.js";
import { hostNicKey } from "./nics.js";
import { keySet, listed, phased } from "./phased.js";

export const lldpIngest: DiscoveryIngest = {
  discovertype: "lldp",
  build(host, data, at, bad) {
    const switches: Row[] = [], nics: Row[] = [], hasNic: Row[] = [], links: Row[] = [];
    const pairs: string[] = [];
    for (const n of listField(data, "neighbours", 1024)) {
      const iface = isObject(n) ? text(n.interface, 64) : null;
      const id = isObject(n) ? (text(n.chassisId, 256) ?? text(n.chassisName, 256)) : null;
      if (!isObject(n) || !iface || iface.includes("/") || !id) {
        bad("LLDP neighbour without interface or chassis");
        continue;
      }
      const nic = hostNicKey(host, iface);
      switches.push({ id, name: text(n.chassisName, 256), chassisId: text(n.chassisId, 256), mgmtIp: text(n.mgmtIp, 64), updatedAt: at });
      nics.push({ key: nic, owner: host, name: iface });
      hasNic.push({ from: host, to: nic });
      links.push({ from: nic, to: id, portId: text(n.portId, 256), portDescription: text(n.portDescription, 256) });
      pairs.push(`${nic} ${id}`);
    }
    return phased({
      nodes: [...mergeNodes("Host", [{ name: host, lldpAvailable: bool(data.available), updatedAt: at }]), ...mergeNodes("Switch", switches), ...mergeNodes("NIC", nics)],
      unlink: [{
        cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:HAS_NIC]->(n:NIC) WITH r, n MATCH (n)-[x:LINKED_TO]->(s:Switch) WHERE NOT ${listed("pairs", "n.key + ' ' + s.id")} DELETE x`,
        params: { rows: [{ host, pairs: keySet(pairs) }] },
      }],
      link: [...mergeRels("HAS_NIC", "Host", "NIC", hasNic), ...mergeRels("LINKED_TO", "NIC", "Switch", links)],
    });
  },
};
