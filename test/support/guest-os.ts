/**
 * A QEMU/TCG domain running a real (tiny) guest OS, for system tests of recovery actions: Debian's
 * kernel and a busybox initramfs made by scripts/guest-image.sh, booted by libvirt's direct kernel
 * boot. The guest serves HTTP with its boot id, powers off cleanly on the ACPI power button, has
 * pvpanic and an i6300esb watchdog, and obeys flags the test writes into a small control disk
 * (see the script's header). Root only.
 *
 * Network rule: the guest's tap is created by libvirt in the root namespace when QEMU starts; the
 * test moves it into a network namespace it made (QEMU keeps its fd, also across guest reboots and
 * resets, which stay in the same QEMU process) and talks to the guest only from inside that
 * namespace. A QEMU restart (destroy + start) makes a new tap in the root namespace: call
 * attachNetwork() again.
 */
import { execFile, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { promisify } from "node:util";
import { QEMU_URI, REPO } from "./libvirt.js";

export const GUEST_IMAGE_SH = `${REPO}scripts/guest-image.sh`;
/** Image files are shared by every guest of a run (the build is idempotent). */
export const GUEST_IMAGE_DIR = "/tmp/ringwatch-guest-image";

const run = promisify(execFile);
const CONTROL_BYTES = 4096; // the guest reads the first 4 KiB of its control disk
const CONTROL_DISK_BYTES = 1 << 20;

export type OnCrash = "destroy" | "restart" | "preserve" | "coredump-destroy" | "coredump-restart";

export interface GuestDomainOptions {
  name: string;
  kernel: string;
  initrd: string;
  /** tap device libvirt creates (at most 15 characters) */
  tap: string;
  /** guest address with prefix length, e.g. 10.213.7.2/30, and its gateway (the host side) */
  ip: string;
  gateway?: string;
  /** raw file the guest sees as the virtio disk with serial "rwctl" */
  controlDisk: string;
  /** file the guest's serial console is appended to */
  consoleLog: string;
  /** what libvirt does after a guest kernel panic (pvpanic); default preserve: the domain stays crashed */
  onCrash?: OnCrash;
  memoryMiB?: number;
  /** a QEMU guest-agent channel (virtio-serial port org.qemu.guest_agent.0; libvirt picks the host socket) */
  agentChannel?: boolean;
}

const xmlText = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");

/** libvirt domain XML of a guest: 1 vCPU, 128 MiB, libvirt's default machine (pc-i440fx). */
export function guestDomainXml(o: GuestDomainOptions): string {
  const x = xmlText;
  const cmdline = `console=ttyS0 quiet panic=0 rw.ip=${o.ip}${o.gateway ? ` rw.gw=${o.gateway}` : ""}`;
  return `<domain type='qemu'>
  <name>${x(o.name)}</name>
  <memory unit='MiB'>${o.memoryMiB ?? 128}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>${x(o.kernel)}</kernel>
    <initrd>${x(o.initrd)}</initrd>
    <cmdline>${x(cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>${o.onCrash ?? "preserve"}</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${x(o.controlDisk)}'/>
      <target dev='vda' bus='virtio'/>
      <serial>rwctl</serial>
    </disk>
    <interface type='ethernet'>
      <target dev='${x(o.tap)}' managed='yes'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='${x(o.consoleLog)}' append='on'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='${x(o.consoleLog)}' append='on'/>
      <target type='serial' port='0'/>
    </console>
${o.agentChannel ? `    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
` : ""}    <panic model='isa'/>
    <watchdog model='i6300esb' action='reset'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** Builds (or reuses) the kernel + initramfs; returns their paths. */
export async function buildGuestImage(dir = GUEST_IMAGE_DIR): Promise<{ kernel: string; initrd: string }> {
  try {
    await run("bash", [GUEST_IMAGE_SH, "build", dir], { encoding: "utf8", maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`scripts/guest-image.sh build failed:\n${(e.stderr ?? e.message).trim().split("\n").slice(-15).join("\n")}`);
  }
  return { kernel: `${dir}/vmlinuz`, initrd: `${dir}/initramfs.gz` };
}

const live = new Set<GuestOs>();
const removeAllSync = (): void => { for (const g of live) g.removeSync(); };
process.on("exit", removeAllSync);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  const onSignal = (): void => {
    removeAllSync();
    process.removeListener(sig, onSignal);
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.on(sig, onSignal);
}

export interface GuestOsOptions {
  /** domain name; also names the namespace, tap and state dir */
  name: string;
  /** third octet of 10.213.N.0/30 (host side .1, guest .2): only inside this guest's namespace */
  subnet?: number;
  onCrash?: OnCrash;
  /** a guest-agent channel in the domain (the guest runs its agent with the flag agent=on) */
  agentChannel?: boolean;
  /** control-disk flags at first boot */
  flags?: Record<string, string>;
}

/** One guest domain, its control disk, console log and network namespace. */
export class GuestOs {
  readonly ns: string;
  readonly tap: string;
  readonly dir: string;
  readonly hostIp: string;
  readonly guestIp: string;
  private removed = false;

  private constructor(readonly name: string, subnet: number) {
    // interface names are at most 15 characters: a short tag of the process and the name
    const tag = `${process.pid.toString(36)}${name.replace(/[^a-z0-9]/gi, "").slice(-4)}`;
    this.ns = `rwg${tag}ns`;
    this.tap = `rwg${tag}t`.slice(0, 15);
    this.dir = `/tmp/ringwatch-guest-${name}`;
    this.hostIp = `10.213.${subnet}.1`;
    this.guestIp = `10.213.${subnet}.2`;
  }

  get consoleLog(): string { return `${this.dir}/console.log`; }
  get controlDisk(): string { return `${this.dir}/control.raw`; }
  get url(): string { return `http://${this.guestIp}/`; }

  /** Defines and starts the domain and moves its tap into a fresh namespace. */
  static async start(opts: GuestOsOptions): Promise<GuestOs> {
    const g = new GuestOs(opts.name, opts.subnet ?? 7);
    live.add(g); // registered first: a half-made guest is still cleaned up
    try {
      const image = await buildGuestImage();
      rmSync(g.dir, { recursive: true, force: true });
      mkdirSync(g.dir, { recursive: true });
      g.writeFlags(opts.flags ?? {});
      const xml = `${g.dir}/domain.xml`;
      writeFileSync(xml, guestDomainXml({
        name: g.name, ...image, tap: g.tap, ip: `${g.guestIp}/30`, gateway: g.hostIp,
        controlDisk: g.controlDisk, consoleLog: g.consoleLog, onCrash: opts.onCrash, agentChannel: opts.agentChannel,
      }));
      await g.virsh("define", xml);
      await run("ip", ["netns", "add", g.ns]);
      await run("ip", ["-n", g.ns, "link", "set", "lo", "up"]);
      await g.virsh("start", g.name);
      await g.attachNetwork();
    } catch (err) {
      await g.remove();
      throw err;
    }
    return g;
  }

  /** Moves the tap QEMU has open into the namespace and gives it the host address. */
  async attachNetwork(): Promise<void> {
    await run("ip", ["link", "set", this.tap, "netns", this.ns]);
    await run("ip", ["-n", this.ns, "addr", "add", `${this.hostIp}/30`, "dev", this.tap]);
    await run("ip", ["-n", this.ns, "link", "set", this.tap, "up"]);
  }

  /** The guest's boot id from its web page (from inside the namespace); rejects when it does not answer. */
  async bootId(timeoutSec = 2): Promise<string> {
    const { stdout } = await run("ip", ["netns", "exec", this.ns, "curl", "-sS", "-m", String(timeoutSec), this.url], { encoding: "utf8" });
    const m = /boot_id=([0-9a-f-]{36})/.exec(stdout);
    if (!m) throw new Error(`no boot id in ${JSON.stringify(stdout)}`);
    return m[1];
  }

  /** Polls until the web page answers with a boot id other than `not` (undefined: any). */
  async waitForBoot(not: string | undefined, timeoutMs: number): Promise<string> {
    const end = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      try {
        const id = await this.bootId();
        if (id !== not) return id;
        last = `still boot id ${id}`;
      } catch (e) {
        last = (e as Error).message.split("\n").filter(Boolean).slice(-1)[0] ?? "";
      }
      if (Date.now() > end) throw new Error(`${this.name}: no new boot within ${timeoutMs} ms (${last}); console:\n${this.console().slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Writes the control disk's flags in place (QEMU keeps the file open: never replace it). */
  writeFlags(flags: Record<string, string>): void {
    const text = Object.entries(flags).map(([k, v]) => `${k}=${v}\n`).join("");
    const buf = Buffer.alloc(CONTROL_BYTES);
    if (buf.write(text) !== Buffer.byteLength(text)) throw new Error("control flags too long");
    const fd = openSync(this.controlDisk, "a+"); // create if missing, never truncate
    closeSync(fd);
    const w = openSync(this.controlDisk, "r+");
    try {
      writeSync(w, buf, 0, buf.length, 0);
      // sparse tail up to the disk size
      writeSync(w, Buffer.alloc(1), 0, 1, CONTROL_DISK_BYTES - 1);
    } finally {
      closeSync(w);
    }
  }

  console(): string {
    try { return readFileSync(this.consoleLog, "utf8"); } catch { return ""; }
  }

  /** libvirt's state and reason, e.g. "crashed (panicked)". */
  async domstate(): Promise<string> {
    return (await this.virsh("domstate", "--reason", this.name)).trim();
  }

  async virsh(...args: string[]): Promise<string> {
    const { stdout } = await run("virsh", ["-q", "-c", QEMU_URI, ...args], { encoding: "utf8" });
    return stdout;
  }

  /** Destroys and undefines the domain, deletes the namespace and the state dir. */
  async remove(): Promise<void> {
    if (this.removed) return;
    await this.virsh("destroy", this.name).catch(() => undefined);
    await this.virsh("undefine", this.name).catch(() => undefined);
    await run("ip", ["netns", "del", this.ns]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
    this.removed = true;
    live.delete(this);
  }

  /** remove() for exit handlers. */
  removeSync(): void {
    if (this.removed) return;
    for (const a of [["destroy", this.name], ["undefine", this.name]]) spawnSync("virsh", ["-q", "-c", QEMU_URI, ...a], { stdio: "ignore" });
    spawnSync("ip", ["netns", "del", this.ns], { stdio: "ignore" });
    rmSync(this.dir, { recursive: true, force: true });
    this.removed = true;
    live.delete(this);
  }
}
