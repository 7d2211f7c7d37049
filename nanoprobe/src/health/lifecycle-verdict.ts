/**
 * What a libvirt lifecycle event says about a guest's health, from the hypervisor side. Only a
 * crash, a panic (a pvpanic device, or a crash-loaded kdump), a watchdog firing or a pause on an
 * I/O error make a guest unhealthy. A guest shut down from inside (the customer's own poweroff),
 * or stopped or destroyed by an operator or by ringwatch, is not: it must never start recovery.
 *
 * A watchdog that fired (libvirt's watchdog event; its action is the detail): "pause" is said by
 * the suspended/watchdog lifecycle event that comes with it; any other action makes the guest
 * unhealthy (`watchdogAction` tells GuestHealth what follows: a "reset" has already run the guest
 * again, a "poweroff" or "shutdown" stops it without anyone meaning it).
 */
import type { LifecycleEvent } from "@ringwatch/libvirt";

export type LifecycleVerdict =
  /** unhealthy for this cause until the guest runs again */
  | { unhealthy: "panicked" | "crashed" | "watchdog" | "ioError"; evidence: string; watchdogAction?: string }
  /** running again (started, resumed): causes from earlier events no longer hold */
  | { runs: true }
  /** stopped on purpose (from inside, by an operator or by ringwatch): no cause holds, none starts */
  | { stoppedOnPurpose: true }
  | undefined;

export function lifecycleVerdict(e: Pick<LifecycleEvent, "event" | "detailName">): LifecycleVerdict {
  const what = `libvirt lifecycle event ${e.event}/${e.detailName}`;
  switch (e.event) {
    case "crashed":
      return { unhealthy: "panicked", evidence: what };
    case "stopped":
      if (e.detailName === "crashed" || e.detailName === "failed") return { unhealthy: "crashed", evidence: what };
      if (e.detailName === "migrated" || e.detailName === "saved") return undefined; // elsewhere now, or saved on purpose
      return { stoppedOnPurpose: true };
    case "suspended":
      if (e.detailName === "ioerror") return { unhealthy: "ioError", evidence: what };
      if (e.detailName === "watchdog") return { unhealthy: "watchdog", evidence: what };
      return undefined; // paused by someone: not a fault
    case "shutdown":
      return { stoppedOnPurpose: true };
    case "started":
    case "resumed":
      return { runs: true };
    case "watchdog":
      if (e.detailName === "pause") return undefined; // the suspended/watchdog event says it
      return { unhealthy: "watchdog", evidence: `libvirt watchdog event: the guest's watchdog fired, action ${e.detailName}`, watchdogAction: e.detailName };
    default:
      return undefined;
  }
}
