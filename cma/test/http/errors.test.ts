import assert from "node:assert/strict";
import { GraphQueryError } from "../../src/graph/graph-store.js";
import { HttpError, describeError } from "../../src/http/errors.js";

describe("cma/http/errors", () => {
  it("graph store errors keep their code with the status that says whose fault it was", () => {
    const statuses = Object.fromEntries((["syntax", "write-refused", "timeout", "too-large", "store"] as const).map((c) => [c, describeError(new GraphQueryError(c, `m-${c}`)).status]));
    assert.deepEqual(statuses, { syntax: 400, "write-refused": 403, timeout: 504, "too-large": 413, store: 500 });
    assert.deepEqual(describeError(new GraphQueryError("timeout", "took too long")).body, { error: "timeout", message: "took too long" });
  });

  it("our own refusals keep their status; anything unexpected is a 500 that reveals nothing", () => {
    assert.deepEqual(describeError(new HttpError(404, "unknown-query", "no such")), { status: 404, body: { error: "unknown-query", message: "no such" } });
    assert.deepEqual(describeError(new TypeError("x is undefined at /secret/path")), { status: 500, body: { error: "internal", message: "internal error (logged by the CMA)" } });
  });
});
