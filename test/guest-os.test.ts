/**
 * A real guest OS under a real libvirtd (QEMU/TCG), the ground the recovery actions of issue 14
 * stand on: one tiny Debian-kernel + busybox guest (scripts/guest-image.sh) whose HTTP service
 * answers, from inside a network namespace this test makes, with the guest's boot id. A soft
 * reboot (ACPI) and a hard reset each give a new boot id through the project's libvirt binding
 * (and a guest told to ignore the power button does not reboot);
 * the service can be switched off while the guest keeps running; a guest kernel panic reaches
 * libvirt through pvpanic as a crashed/panicked lifecycle event, and a reset recovers it; a
 * watchdog no longer fed fires libvirt's watchdog event and resets the guest. Needs
 * root; fails (does not skip) when libvirtd cannot start.
 */
import assert from "node:assert/strict";
import { LibvirtConnection } from "@ringwatch/libvirt";
import type { DomainSummary, LifecycleEvent } from "@ringwatch/libvirt";
import { waitUntil } from "@ringwatch/shared/testing";
import { GuestOs } from "./support/guest-os.js";
import { LibvirtLab } from "./support/libvirt.js";

const BOOT_MS = 90_000; // a TCG boot takes ~10 s on a loaded 2-core machine; generous

describe("system: a real guest OS under libvirt (QEMU/TCG): reboot, reset, service off, panic, watchdog", function () {
  this.timeout(120_000);
  let lab: LibvirtLab;
  let conn: LibvirtConnection;
  let guest: GuestOs;
  let uuid: string;
  let bootId: string;
  const events: LifecycleEvent[] = [];

  const summary = async (): Promise<DomainSummary> => {
    const d = (await conn.listDomains()).find((x) => x.uuid === uuid);
    assert.ok(d, `${guest.name} not listed`);
    return d;
  };

  before(async function () {
    this.timeout(300_000); // a fresh machine installs libvirt, the kernel and busybox first
    lab = await LibvirtLab.start(0, { prefix: "rwt-gos" });
    conn = await LibvirtConnection.open(lab.uri);
    await conn.watchLifecycle();
    conn.events.on("lifecycle", (e: LifecycleEvent) => events.push(e));
    guest = await GuestOs.start({ name: `rwt-gos-guest${process.pid}` });
    uuid = (await guest.virsh("domuuid", guest.name)).trim();
  });

  after(async function () {
    this.timeout(60_000);
    await guest?.remove();
    await conn?.close();
    await lab?.stop();
  });

  it("boots, and its HTTP service answers from inside the test's namespace with a boot id", async () => {
    bootId = await guest.waitForBoot(undefined, BOOT_MS);
    assert.match(bootId, /^[0-9a-f-]{36}$/);
    assert.equal((await summary()).state, "running");
    assert.match(guest.console(), /rwguest: httpd started/);
  });

  it("a soft reboot (ACPI power button, the guest powers off, libvirt starts it again) gives a new boot id", async () => {
    await conn.reboot(uuid);
    const next = await guest.waitForBoot(bootId, BOOT_MS);
    assert.notEqual(next, bootId);
    assert.match(guest.console(), /rwguest: power button: poweroff/);
    bootId = next;
  });

  it("a hard reset gives a new boot id", async () => {
    await conn.reset(uuid);
    const next = await guest.waitForBoot(bootId, BOOT_MS);
    assert.notEqual(next, bootId);
    bootId = next;
  });

  it("a guest that ignores the power button (a hung guest) does not reboot on a soft reboot", async () => {
    guest.writeFlags({ acpi: "ignore" });
    await conn.reboot(uuid);
    await waitUntil(() => /rwguest: power button ignored/.test(guest.console()), 30_000, "the guest ignoring the power button", 200);
    assert.equal(await guest.bootId(), bootId);
    guest.writeFlags({});
  });

  it("a guest kernel panic is reported by libvirt as crashed/panicked, and a reset recovers it", async () => {
    guest.writeFlags({ panic: "1" }); // differs from the token at boot (none): the guest panics
    await waitUntil(() => events.some((e) => e.uuid === uuid && e.event === "crashed" && e.detailName === "panicked"),
      30_000, "a crashed/panicked lifecycle event", 100);
    assert.equal((await summary()).state, "crashed"); // on_crash=preserve: it stays crashed
    assert.equal(await guest.domstate(), "crashed (panicked)");
    // reset leaves the vCPUs paused ("paused (crashed)"): resume runs the new boot
    await conn.reset(uuid);
    await conn.action(uuid, "resume");
    const next = await guest.waitForBoot(bootId, BOOT_MS); // same token: no second panic
    assert.notEqual(next, bootId);
    bootId = next;
  });

  it("with the service switched off, the HTTP check fails while the guest keeps running", async () => {
    guest.writeFlags({ panic: "1", httpd: "off" });
    await waitUntil(() => /rwguest: httpd stopped/.test(guest.console()), 30_000, "the guest stopping httpd", 200);
    await assert.rejects(guest.bootId(), /Failed to connect|Connection refused|Couldn't connect/);
    assert.equal((await summary()).state, "running");
  });

  it("a guest whose watchdog is no longer fed: libvirt's watchdog event (action reset, as the domain says), and the guest boots again", async () => {
    guest.writeFlags({ panic: "1", watchdog: "on" }); // read at boot: the next boot arms the i6300esb
    await conn.reset(uuid);
    bootId = await guest.waitForBoot(bootId, BOOT_MS);
    await waitUntil(() => /rwguest: watchdog armed/.test(guest.console()), 30_000, "the watchdog armed", 200);
    assert.ok(!events.some((e) => e.uuid === uuid && e.event === "watchdog"), "no watchdog event while it is fed");
    guest.writeFlags({ panic: "1", watchdog: "starve" }); // the feeder is killed; the next boot leaves it off
    await waitUntil(() => events.some((e) => e.uuid === uuid && e.event === "watchdog"), 60_000, "a watchdog event", 200);
    const fired = events.filter((e) => e.uuid === uuid && e.event === "watchdog");
    assert.deepEqual(fired.map((e) => e.detailName), ["reset"]);
    assert.match(guest.console(), /rwguest: watchdog starved/);
    const next = await guest.waitForBoot(bootId, BOOT_MS);
    assert.notEqual(next, bootId, "the watchdog reset the guest");
    bootId = next;
  });
});
