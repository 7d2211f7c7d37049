// Names of lifecycle event details (virDomainEvent*DetailType), by event; a watchdog event's
// detail is its action.
import type { LifecycleEventName } from "./types.js";

const DETAILS: Partial<Record<LifecycleEventName, readonly string[]>> = {
  defined: ["added", "updated", "renamed", "from_snapshot"],
  undefined: ["removed", "renamed"],
  started: ["booted", "migrated", "restored", "from_snapshot", "wakeup"],
  suspended: ["paused", "migrated", "ioerror", "watchdog", "restored", "from_snapshot", "api_error",
    "postcopy", "postcopy_failed"],
  resumed: ["unpaused", "migrated", "from_snapshot", "postcopy", "postcopy_failed"],
  stopped: ["shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from_snapshot"],
  shutdown: ["finished", "guest", "host"],
  pmsuspended: ["memory", "disk"],
  crashed: ["panicked", "crashloaded"],
  // virDomainEventWatchdogAction: what the hypervisor did when the guest's watchdog fired
  watchdog: ["none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi"],
};

export function lifecycleDetailName(event: LifecycleEventName, detail: number): string {
  return DETAILS[event]?.[detail] ?? `detail${detail}`;
}
