/**
 * A simulator worker process (forked by simulator.ts): runs its share of the simulated hosts on its
 * own event loop, so that thousands of hosts do not share one loop (a loop that lags makes every
 * host on it see a stall at once, which real hosts never do together). Exits when the parent goes.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { HostRunner } from "./host-runner.js";
import type { FromWorker, ToWorker } from "./protocol.js";

if (!process.send) {
  process.stderr.write("sim-worker: must be started by the simulator (no IPC channel)\n");
  process.exit(2);
}
const send = (m: FromWorker): void => {
  process.send?.(m);
};
const lag = monitorEventLoopDelay({ resolution: 20 });
lag.enable();
let runner: HostRunner | undefined;
let viewTimer: NodeJS.Timeout | undefined;

async function act(m: ToWorker): Promise<void> {
  if (m.type === "start") {
    runner = new HostRunner(m.opts);
    await runner.start(m.hosts);
    viewTimer = setInterval(() => {
      send({ type: "views", views: runner!.views(), lagMs: Math.round(lag.max / 1e6) });
      lag.reset();
    }, m.opts.viewIntervalMs);
    return;
  }
  if (!runner) throw new Error(`${m.type} before start`);
  switch (m.type) {
    case "kill": return runner.kill(m.names);
    case "leave": return runner.leave(m.names);
    case "restart": return runner.restart(m.names);
    case "pause": return runner.pause(m.names);
    case "resume": return runner.resume(m.names);
    case "partition": return runner.partition(m.names);
    case "slow": return runner.slow(m.names, m.delayMs);
    case "report": return runner.report(m.reports);
    case "stop":
      if (viewTimer) clearInterval(viewTimer);
      await runner.stop();
      send({ type: "views", views: runner.views(), lagMs: 0 });
      return;
  }
}

process.on("message", (m: ToWorker) => {
  act(m).then(
    () => send({ type: "done", id: m.id }),
    (e: Error) => send({ type: "done", id: m.id, error: e.message }),
  );
});
// the simulator is gone (or stopped us): nothing of ours may outlive it
process.on("disconnect", () => process.exit(0));
