import assert from "node:assert/strict";
import { LibvirtConnection } from "../src/connection.js";
import { LibvirtError, LibvirtErrorCode } from "../src/errors.js";
import { loadBinding } from "../src/binding.js";
import type { LifecycleEvent, LifecycleEventName } from "../src/types.js";
import { useTestDriver } from "./fixtures/test-driver-connection.js";

/** Resolves with the next lifecycle event for uuid (or rejects after timeoutMs). */
function nextEvent(conn: LibvirtConnection, uuid: string, timeoutMs = 3000): Promise<LifecycleEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.events.off("lifecycle", on);
      reject(new Error(`no lifecycle event for ${uuid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (ev: LifecycleEvent): void => {
      if (ev.uuid !== uuid) return;
      clearTimeout(timer);
      conn.events.off("lifecycle", on);
      resolve(ev);
    };
    conn.events.on("lifecycle", on);
  });
}

describe("libvirt/connection (test driver)", () => {
  const td = useTestDriver(30);

  it("reports the libvirt version (9.x here)", () => {
    assert.ok(LibvirtConnection.libvirtVersion() >= 9_000_000);
  });

  it("lists all 30 domains (active and inactive) with the right states", async () => {
    const list = await td.conn.listDomains();
    assert.equal(list.length, 30);
    for (const want of td.fx.domains) {
      const got = list.find((d) => d.uuid === want.uuid);
      assert.ok(got, want.name);
      assert.equal(got.name, want.name);
      assert.equal(got.state, want.state);
      assert.equal(got.active, want.state !== "shutoff");
      assert.equal(got.id === null, want.state === "shutoff");
      assert.equal(got.vcpus, want.vcpus);
      assert.equal(got.maxMemKiB, want.memoryKiB);
      assert.equal(typeof got.cpuTime, "bigint");
    }
  });

  it("returns the domain XML", async () => {
    const d = td.fx.domains[0];
    const xml = await td.conn.domainXml(d.uuid);
    assert.match(xml, new RegExp(`<name>${d.name}</name>`));
    assert.match(await td.conn.domainXml(d.uuid, { inactive: true }), /<domain type='test'/);
  });

  describe("actions and lifecycle events", () => {
    const expectEvent = async (uuid: string, act: () => Promise<void>, event: LifecycleEventName, detailName: string) => {
      const ev = nextEvent(td.conn, uuid);
      await act();
      const got = await ev;
      assert.equal(got.event, event);
      assert.equal(got.detailName, detailName);
      assert.equal(got.uuid, uuid);
    };
    let uuid: string;
    before(async () => {
      uuid = td.fx.domains.find((d) => d.state === "running")!.uuid;
      await td.conn.watchLifecycle();
      await td.conn.watchLifecycle(); // second call is a no-op
    });

    it("suspend / resume change state and emit suspended / resumed", async () => {
      await expectEvent(uuid, () => td.conn.suspend(uuid), "suspended", "paused");
      assert.equal((await td.conn.domainInfo(uuid)).state, "paused");
      await expectEvent(uuid, () => td.conn.resume(uuid), "resumed", "unpaused");
      assert.equal((await td.conn.domainInfo(uuid)).state, "running");
    });

    it("destroy / create change state and emit stopped / started", async () => {
      await expectEvent(uuid, () => td.conn.destroy(uuid), "stopped", "destroyed");
      const off = await td.conn.domainInfo(uuid);
      assert.equal(off.state, "shutoff");
      assert.equal(off.id, null);
      await expectEvent(uuid, () => td.conn.start(uuid), "started", "booted");
      assert.equal((await td.conn.domainInfo(uuid)).state, "running");
    });

    it("reset and reboot succeed on a running domain (the test driver emits no event for them)", async () => {
      await td.conn.reset(uuid);
      await td.conn.reboot(uuid);
      assert.equal((await td.conn.domainInfo(uuid)).state, "running");
    });

    it("shutdown stops the domain; starting it again works", async () => {
      const other = td.fx.domains.filter((d) => d.state === "running")[1].uuid;
      await expectEvent(other, () => td.conn.shutdown(other), "stopped", "shutdown");
      assert.equal((await td.conn.domainInfo(other)).state, "shutoff");
      await td.conn.start(other);
      assert.equal((await td.conn.domainInfo(other)).state, "running");
    });

    it("an invalid action on the current state rejects with the libvirt reason", async () => {
      const off = td.fx.domains.find((d) => d.state === "shutoff")!.uuid;
      await assert.rejects(td.conn.suspend(off), (e: unknown) => {
        assert.ok(e instanceof LibvirtError);
        assert.ok(e.code > 0); // the test driver says INTERNAL_ERROR here; QEMU says OPERATION_INVALID
        assert.match(e.message, /not running/);
        return true;
      });
    });
  });

  describe("errors", () => {
    it("unknown uuid rejects with LibvirtError NO_DOMAIN", async () => {
      const missing = "00000000-0000-4000-8000-00000000dead";
      const calls = [() => td.conn.domainInfo(missing), () => td.conn.domainXml(missing), () => td.conn.destroy(missing), () => td.conn.vcpus(missing)];
      for (const p of calls) {
        await assert.rejects(p(), (e: unknown) => {
          assert.ok(e instanceof LibvirtError);
          assert.equal(e.code, LibvirtErrorCode.NO_DOMAIN);
          assert.match(e.message, /Domain not found/);
          return true;
        });
      }
    });

    it("a malformed uuid rejects with a LibvirtError, not a crash", async () => {
      await assert.rejects(td.conn.domainInfo("not-a-uuid"), LibvirtError);
    });

    it("a missing device rejects with the libvirt message", async () => {
      const d = td.fx.domains.find((x) => x.state === "running")!;
      await assert.rejects(td.conn.blockStats(d.uuid, "nosuchdisk"), /invalid path: nosuchdisk/);
    });

    it("bad argument types reject with TypeError (native layer validates)", async () => {
      const native = loadBinding();
      const raw = await native.open(td.fx.uri);
      type Loose = Record<string, (...args: unknown[]) => Promise<unknown>>;
      const loose = raw as unknown as Loose;
      const cases: [string, unknown[]][] = [
        ["getDomainInfo", [42]],
        ["getDomainInfo", []],
        ["getXMLDesc", [{}]],
        ["getXMLDesc", [td.fx.domains[0].uuid, "x"]],
        ["getAllDomainStats", ["state", 0]],
        ["getAllDomainStats", [["state", 7], 0]],
        ["getAllDomainStats", [["nosuchgroup"], 0]],
        ["getAllDomainStats", [["state"], -1]],
        ["getAllDomainStats", [["state"], 1.5]],
        ["blockStats", [td.fx.domains[0].uuid, null]],
        ["domainAction", [td.fx.domains[0].uuid, "explode"]],
        ["domainAction", [td.fx.domains[0].uuid]],
        ["domainFallbackStats", [td.fx.domains[0].uuid, {}, "vda", []]],
        ["startLifecycleEvents", ["not a function"]],
      ];
      for (const [method, args] of cases) {
        await assert.rejects(loose[method](...args), TypeError, `${method}(${JSON.stringify(args)})`);
      }
      const open = native.open as unknown as (...a: unknown[]) => Promise<unknown>;
      await assert.rejects(open(undefined), TypeError);
      await assert.rejects(open("test:///default", "yes"), TypeError);
      // A method called on a foreign object or the constructor called directly throws, not aborts.
      const proto = Object.getPrototypeOf(raw) as Loose & { constructor: new () => unknown };
      assert.throws(() => proto.listDomains.call({}));
      assert.throws(() => new proto.constructor(), TypeError);
      await raw.close();
    });

    it("a bad URI rejects with a clear LibvirtError", async () => {
      await assert.rejects(LibvirtConnection.open("test:///nonexistent/file.xml"), (e: unknown) => {
        assert.ok(e instanceof LibvirtError);
        assert.match(e.message, /nonexistent\/file\.xml/);
        return true;
      });
      await assert.rejects(LibvirtConnection.open("nosuchdriver+bogus://x/y"), LibvirtError);
    });

    it("calls after close reject; close is idempotent", async () => {
      const c = await LibvirtConnection.open(td.fx.uri);
      await c.watchLifecycle();
      await c.close();
      await c.close();
      assert.equal(c.closed, true);
      await assert.rejects(c.listDomains(), (e: unknown) => e instanceof LibvirtError && /closed/.test(e.message));
      await assert.rejects(c.watchLifecycle(), LibvirtError);
    });

    it("the process survived all of the above", async () => {
      assert.equal((await td.conn.listDomains()).length, 30);
    });
  });
});
