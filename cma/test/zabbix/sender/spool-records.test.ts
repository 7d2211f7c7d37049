import assert from "node:assert/strict";
import { encodeRecords, scanRecords } from "../../../src/zabbix/sender/spool-records.js";

describe("cma/zabbix/sender/spool-records", () => {
  const buf = encodeRecords([Buffer.from("alpha"), Buffer.from(""), Buffer.from("gamma")]);

  it("round-trips payloads with their end offsets", () => {
    const got: [string, number][] = [];
    const r = scanRecords(buf, 0, (p, end) => void got.push([p.toString(), end]));
    assert.deepEqual(got, [["alpha", 13], ["", 21], ["gamma", 34]]);
    assert.deepEqual(r, { end: 34, records: 3 });
    assert.deepEqual(scanRecords(buf, 0, undefined, 2), { end: 21, records: 2 });
  });

  it("stops at a torn header, a cut record, an absurd length or a checksum mismatch, and says which", () => {
    assert.deepEqual(scanRecords(buf.subarray(0, 25)), { end: 21, records: 2, error: "4 bytes of an incomplete record header", incomplete: true });
    assert.deepEqual(scanRecords(buf.subarray(0, 31)), { end: 21, records: 2, error: "record of 5 bytes cut after 2", incomplete: true });
    assert.deepEqual(scanRecords(buf.subarray(0, 31), 0, undefined, Infinity, true), { end: 21, records: 2 }, "a reader's partial chunk is not an error");
    const huge = Buffer.from(buf);
    huge.writeUInt32LE(0x7fffffff, 21);
    assert.match(scanRecords(huge).error!, /length 2147483647 exceeds/);
    const flipped = Buffer.from(buf);
    flipped[10] ^= 1;
    assert.deepEqual(scanRecords(flipped), { end: 0, records: 0, error: "record checksum mismatch" });
  });
});
