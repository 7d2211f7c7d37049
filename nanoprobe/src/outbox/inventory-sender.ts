/**
 * Guest inventory to the CMA. Changes go as they happen; a CMA that missed one (it could not be
 * reached, or it is new) must get the full set, so after a send that could not go or failed the
 * next one is the full inventory. A full inventory says every guest not in it is gone, so only
 * libvirt itself can make one: while it does not answer, the full set waits (and nothing is said
 * about guests) until it does.
 */
import type { DomainInventory } from "@ringwatch/shared";
import type { CmaRegistration } from "./cma-registration.js";

export class InventorySender {
  private needsFull = true;

  constructor(
    private readonly cma: CmaRegistration,
    private readonly counters: { inventoriesSent: number },
    /** this hypervisor's whole inventory now; undefined while libvirt does not answer */
    private readonly full: () => DomainInventory | undefined,
  ) {}

  /** The whole inventory (a CMA registered us), or as soon as libvirt answers. */
  sendFull(): void {
    const inv = this.full();
    if (inv) this.send(inv);
    else this.needsFull = true; // the monitor sends the full set when libvirt answers
  }

  /** Guest inventory to the CMA; while it cannot be sent, remember to send the full set later. */
  send(inv: DomainInventory): void {
    if (!this.cma.ready) {
      this.needsFull = true;
      return;
    }
    if (!inv.full && this.needsFull) {
      const full = this.full();
      if (!full) return; // libvirt not answering (yet): its full set follows when it does
      inv = full;
    }
    this.needsFull = false;
    this.counters.inventoriesSent++;
    this.cma.send({ inventory: inv }).catch(() => {
      this.needsFull = true; // a full set goes with the next chance
    });
  }
}
