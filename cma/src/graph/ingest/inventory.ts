/**
 * Inventory events (cma/src/inventory): a guest appeared, changed or was removed on a host. The
 * inventory store has validated them; empty protobuf strings become nulls here.
 */
import type { InventoryEvent } from "../../intake/inventory-store.js";
import type { AddressScopes } from "./address-scope.js";
import { guestGone, guestWrites } from "./domains.js";
import { mac } from "./input.js";
import type { Phased } from "./phased.js";

const orNull = (s: string): string | null => (s ? s : null);

export function inventoryWrites(e: InventoryEvent, scopes: AddressScopes): Phased {
  if (e.type === "domainRemoved") return guestGone(e.host, e.uuid.toLowerCase(), e.at);
  const d = e.domain;
  return guestWrites(e.host, [{
    uuid: d.uuid.toLowerCase(),
    name: d.name,
    state: orNull(d.state),
    vcpus: d.vcpus,
    memoryKiB: d.memoryKib,
    disks: d.disks.filter((k) => k.target).map((k) => ({ target: k.target, source: orNull(k.source) })),
    nics: d.nics.map((n) => ({ target: orNull(n.target), mac: mac(n.mac), bridge: orNull(n.bridge), network: orNull(n.network) })),
  }], e.at, false, scopes);
}
