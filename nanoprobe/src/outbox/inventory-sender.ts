/**
 * Guest inventory to the CMA. Changes go as they happen; a CMA that missed one (it could not be
 * reached, or it is new) must get the full set, so after a send that could not go or failed the
 * next one is the full inventory.
 */
import type { DomainInventory } from "@ringwatch/shared";
import type { CmaRegistration } from "./cma-registration.js";

export class InventorySender {
  private needsFull = true;

  constructor(
    private readonly cma: CmaRegistration,
    private readonly counters: { inventoriesSent: number },
    /** this hypervisor's whole inventory now */
    private readonly full: () => DomainInventory,
  ) {}

  /** Guest inventory to the CMA; while it cannot be sent, remember to send the full set later. */
  send(inv: DomainInventory): void {
    if (!this.cma.ready) {
      this.needsFull = true;
      return;
    }
    if (!inv.full && this.needsFull) inv = this.full();
    this.needsFull = false;
    this.counters.inventoriesSent++;
    this.cma.send({ inventory: inv }).catch(() => {
      this.needsFull = true; // a full set goes with the next chance
    });
  }
}
