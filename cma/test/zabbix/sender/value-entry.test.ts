import assert from "node:assert/strict";
import { encodeValueEntry, invalidValueReason, pairIdOfEntry, pairOfId } from "../../../src/zabbix/sender/value-entry.js";

describe("cma/zabbix/sender/value-entry", () => {
  it("reads the (host, key) pair of an entry without a JSON parse, whatever the key contains", () => {
    for (const key of ['a,"value":b', 'x\\"', "ключ[😀]", 'k[",\\"value\\":"]']) {
      const id = pairIdOfEntry(encodeValueEntry({ host: "hv", key, value: "v", clock: 1, ns: 0 }))!;
      assert.deepEqual(pairOfId(id), { host: "hv", key });
    }
    assert.equal(pairIdOfEntry(Buffer.from("{}")), undefined);
  });

  it("validates values before they are accepted", () => {
    const ok = { host: "hv1", key: "k", value: 1, clock: 1_800_000_000, ns: 0 };
    assert.equal(invalidValueReason(ok), undefined);
    assert.equal(invalidValueReason({ ...ok, value: "text" }), undefined);
    for (const bad of [
      null, 7, { ...ok, host: "" }, { ...ok, host: "a\nb" }, { ...ok, host: "h".repeat(129) }, { ...ok, key: "" }, { ...ok, key: 5 }, { ...ok, key: "k\u0000" },
      { ...ok, value: NaN }, { ...ok, value: Infinity }, { ...ok, value: true }, { ...ok, value: "\ud800x" }, { ...ok, value: "v".repeat(70_000) },
      { ...ok, clock: -1 }, { ...ok, clock: 1.5 }, { ...ok, clock: 2 ** 31 }, { ...ok, ns: 1_000_000_000 }, { ...ok, ns: -1 }, { ...ok, ns: undefined },
    ]) {
      assert.equal(typeof invalidValueReason(bad), "string", JSON.stringify(bad)?.slice(0, 60));
    }
  });
});
