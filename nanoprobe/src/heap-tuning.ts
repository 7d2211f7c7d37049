/**
 * V8's young generation, for an agent that runs for months beside the guests it watches: imported
 * first by the CLI, before anything else allocates.
 *
 * V8 doubles the young generation (two semi-spaces, 1 MiB each at start) each time enough objects
 * have survived its collections since the last doubling, up to 16 MiB each (with one more for
 * promotion: 32–48 MiB of heap), and only shrinks it when allocation slows below ~1 MB/s, which
 * sampling 30 domains every second never does. Measured on 30 real domains: RSS 84 → 115 MiB in
 * 4.5 minutes with V8's default, 79–88 MiB with the semi-spaces kept at their initial size
 * (`node --max-semi-space-size=1`; bench/nanoprobe-soak.bench.ts). A growth factor of 1 keeps them
 * there without a command-line flag, so `node cli.js`, the systemd unit and `ringwatch-nanoprobe`
 * all get it. It is read by V8 each time it would grow the space, so setting it after start is
 * safe; the cost is more frequent young collections, each small (little survives a sampling pass).
 */
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--semi-space-growth-factor=1");

/**
 * The old generation: V8 lets it grow by at least 8 MiB between full collections, so RSS saws up
 * and down by that much whatever the agent keeps. `--optimize-for-size` makes that step 2 MiB
 * (and favours memory elsewhere, at some cost in speed). Measured side by side on 30 test-driver
 * domains (bench/nanoprobe-soak.bench.ts, minutes 2–9): RSS 79–83 MiB with it, 80–88 without;
 * 8.0–8.6 ms of CPU per sampling pass with it, 6.3–8.2 without. Read by V8 as it decides, so it
 * can follow the configuration (option v8OptimizeForSize).
 */
export function favourSize(on: boolean): void {
  setFlagsFromString(on ? "--optimize-for-size" : "--no-optimize-for-size");
}
