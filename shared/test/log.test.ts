import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "../src/index.js";
import type { LogFormat } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "rw-log-"));
let n = 0;

/** One info line through a logger on a file's descriptor, as written to disk. */
function lineTo(format: LogFormat | undefined): string {
  const file = join(dir, `log-${n++}`);
  const fd = openSync(file, "w");
  try {
    createLogger({ name: "t", fd, format }).info({ host: "hv7" }, "host joined");
  } finally {
    closeSync(fd);
  }
  return readFileSync(file, "utf8");
}

describe("shared/log: JSON for daemons and files, pretty for a person at a terminal", () => {
  it("json writes one JSON object per line", () => {
    const o = JSON.parse(lineTo("json")) as Record<string, unknown>;
    assert.equal(o.msg, "host joined");
    assert.equal(o.host, "hv7");
    assert.equal(o.name, "t");
  });

  it("auto on a file (not a terminal) writes JSON", () => {
    assert.equal((JSON.parse(lineTo("auto")) as { msg: string }).msg, "host joined");
    assert.equal((JSON.parse(lineTo(undefined)) as { msg: string }).msg, "host joined");
  });

  it("pretty writes a readable line (level, name, message, fields), not JSON", () => {
    const out = lineTo("pretty");
    assert.throws(() => JSON.parse(out));
    assert.match(out, /INFO.*\(t\/\d+\).*host joined/);
    assert.match(out, /host joined {"host":"hv7"}/, "one line per event, its fields on it");
    assert.doesNotMatch(out, /\x1b\[/, "no colours when the file is not a terminal");
  });

  it("auto on a real terminal (script(1) gives the child a pty) is pretty", () => {
    const log = fileURLToPath(new URL("../src/log.js", import.meta.url));
    const child = `import(${JSON.stringify(log)}).then((m) => m.createLogger({ name: "t" }).info("on a terminal"))`;
    const out = execFileSync("script", ["-qec", `${process.execPath} -e ${shellQuote(child)}`, "/dev/null"], { encoding: "utf8", timeout: 30_000 });
    assert.match(out, /on a terminal/);
    assert.doesNotMatch(out, /"msg"/, `expected a pretty line, got: ${out}`);
    assert.match(out, /INFO/);
  });
});

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
