/**
 * Real libvirtd + tiny QEMU domains for system tests, made by scripts/libvirt-up.sh (root only).
 * Each lab has its own domain-name prefix and state dir, so a test never touches the domains of a
 * benchmark or a developer (the default prefix rwt-vm). Every lab still up when the process exits
 * (normally, or on SIGINT/SIGTERM) is stopped: its domains are destroyed and undefined, and the
 * libvirtd it started is stopped.
 */
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// compiled to test/dist/support/libvirt.js: the repository is three levels up
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const LIBVIRT_UP_SH = `${REPO}scripts/libvirt-up.sh`;
export const QEMU_URI = "qemu:///system";

const run = promisify(execFile);

export interface LabOptions {
  /** Domain names are prefix01, prefix02, ... (default "rwt-test"). */
  prefix?: string;
  /** Disks, XML, libvirtd log and pid (default /tmp/ringwatch-libvirt-<prefix>). */
  stateDir?: string;
}

const live = new Set<LibvirtLab>();

function stopAllSync(): void {
  for (const lab of live) lab.stopSync();
}

process.on("exit", stopAllSync);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  const onSignal = (): void => {
    stopAllSync();
    process.removeListener(sig, onSignal);
    // nobody else handles it: die of the signal as we would have without this handler
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.on(sig, onSignal);
}

export class LibvirtLab {
  readonly uri = QEMU_URI;
  private count = 0;
  private stopped = false;

  private constructor(
    readonly prefix: string,
    readonly stateDir: string,
  ) {}

  /** Domain name of number i (1-based), as the script names it. */
  name(i: number): string {
    return `${this.prefix}${String(i).padStart(2, "0")}`;
  }

  /** Names of the domains that should exist now. */
  get names(): string[] {
    return Array.from({ length: this.count }, (_, k) => this.name(k + 1));
  }

  /**
   * Installs what is missing, starts libvirtd and `count` running domains. Rejects with the
   * script's own error lines when libvirtd or a domain cannot start.
   */
  static async start(count: number, options: LabOptions = {}): Promise<LibvirtLab> {
    const prefix = options.prefix ?? "rwt-test";
    const lab = new LibvirtLab(prefix, options.stateDir ?? `/tmp/ringwatch-libvirt-${prefix}`);
    live.add(lab); // registered before the script runs: a half-made lab is still cleaned up
    try {
      await lab.resize(count);
    } catch (err) {
      await lab.stop().catch(() => undefined);
      throw err;
    }
    return lab;
  }

  /** Makes domains 1..count exist and run: new ones are defined and started, higher ones removed. */
  async resize(count: number): Promise<void> {
    if (this.stopped) throw new Error(`libvirt lab ${this.prefix} is stopped`);
    await this.script("start", String(count));
    this.count = count;
  }

  /**
   * Stops libvirtd alone (a libvirtd restart or upgrade): the domains' QEMUs keep running. Only a
   * libvirtd this lab started; rejects if a domain died with it.
   */
  async daemonStop(): Promise<void> {
    await this.script("daemon-stop");
  }

  /** Starts libvirtd again; it reattaches to the running domains (rejects if one is not running). */
  async daemonStart(): Promise<void> {
    await this.script("daemon-start");
  }

  /** Destroys and undefines this lab's domains; stops libvirtd if this lab's state dir started it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.script("stop");
    live.delete(this);
  }

  /** stop() for exit handlers, where nothing asynchronous runs any more. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    spawnSync("bash", [LIBVIRT_UP_SH, "stop"], { env: this.env(), stdio: "ignore" });
    live.delete(this);
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, RINGWATCH_LV_PREFIX: this.prefix, RINGWATCH_LV_STATE_DIR: this.stateDir };
  }

  private async script(...args: string[]): Promise<string> {
    try {
      // apt output can be long: a large buffer keeps execFile from failing on it
      const { stdout } = await run("bash", [LIBVIRT_UP_SH, ...args], { env: this.env(), encoding: "utf8", maxBuffer: 64 << 20 });
      return stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      const tail = (e.stderr ?? "").trim().split("\n").slice(-15).join("\n");
      throw new Error(`scripts/libvirt-up.sh ${args.join(" ")} failed (state dir ${this.stateDir}):\n${tail || e.message}`);
    }
  }
}
