/**
 * Reads the standard Zabbix agent configuration (zabbix_agentd.conf or zabbix_agent2.conf) for the
 * settings a nanoprobe shares with the agent on the same hypervisor, so both report under one host
 * name without configuring it twice. A parser only: no Zabbix code.
 *
 * Format (as the agent reads it): one `Parameter=Value` per line, `#` starts a comment line,
 * blank lines are ignored, `Include=` names a file, a directory (every file in it) or a file
 * pattern with `*` in the last component (`/etc/zabbix/zabbix_agentd.d/*.conf`); includes nest.
 * Used: Hostname (first of a comma-separated list) and ListenIP (when it names a single address).
 * Not supported: HostnameItem (an item key the agent evaluates; we do not run agent items) — it is
 * reported, and the nanoprobe's own default (the system host name) stays. Any other parameter is
 * the agent's business and ignored. Malformed lines, duplicates, bad values and unreadable
 * includes are counted and listed with file:line, never fatal.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

export interface AgentConfigProblem {
  file: string;
  line: number;
  problem: string;
}

export interface AgentConfig {
  /** files read, in order (the main file first) */
  files: string[];
  hostname?: string;
  listenIp?: string;
  /** HostnameItem was set (and is not supported) */
  hostnameItem?: string;
  problems: AgentConfigProblem[];
}

/** The Zabbix host name alphabet; the agent refuses anything else. */
const HOSTNAME = /^[A-Za-z0-9 ._-]{1,128}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const MAX_DEPTH = 10;
const MAX_FILE_BYTES = 1024 * 1024;
const PARAM = /^([A-Za-z][A-Za-z0-9_.]*)[ \t]*=(.*)$/; // the agent trims around "="

/** Parse the agent config at `path` (which must exist: check before calling, see readAgentConfigIfPresent). */
export function parseAgentConfig(path: string): AgentConfig {
  const out: AgentConfig = { files: [], problems: [] };
  const seen = new Map<string, { file: string; line: number }>();
  const visiting = new Set<string>();

  const readFile = (file: string, depth: number, from?: { file: string; line: number }): void => {
    const abs = resolve(file);
    if (visiting.has(abs)) {
      out.problems.push({ ...(from ?? { file: abs, line: 0 }), problem: `Include loop: ${abs} is already being read` });
      return;
    }
    let text: string;
    try {
      const st = statSync(abs);
      if (st.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = readFileSync(abs, "utf8");
    } catch (e) {
      out.problems.push({ ...(from ?? { file: abs, line: 0 }), problem: `cannot read ${abs}: ${(e as Error).message}` });
      return;
    }
    out.files.push(abs);
    visiting.add(abs);
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const where = { file: abs, line: i + 1 };
      const m = PARAM.exec(line);
      if (!m) {
        out.problems.push({ ...where, problem: `not a Parameter=Value line: ${JSON.stringify(line.slice(0, 60))}` });
        return;
      }
      const [, name, rawValue] = m;
      const value = rawValue.trim();
      if (name === "Include") {
        if (depth >= MAX_DEPTH) out.problems.push({ ...where, problem: `Include nested deeper than ${MAX_DEPTH}` });
        else for (const f of expandInclude(value, abs, where, out.problems)) readFile(f, depth + 1, where);
        return;
      }
      if (name !== "Hostname" && name !== "ListenIP" && name !== "HostnameItem") return; // the agent's own business
      const before = seen.get(name);
      if (before) {
        out.problems.push({ ...where, problem: `${name} is set again (first at ${before.file}:${before.line}; the agent refuses this, the first one is used)` });
        return;
      }
      seen.set(name, where);
      if (name === "Hostname") {
        const first = value.split(",")[0].trim();
        if (HOSTNAME.test(first)) out.hostname = first;
        else out.problems.push({ ...where, problem: `Hostname ${JSON.stringify(first.slice(0, 60))} is not a valid Zabbix host name (letters, digits, space, . _ -; at most 128)` });
      } else if (name === "ListenIP") {
        const ips = value.split(",").map((s) => s.trim()).filter(Boolean);
        if (ips.length === 1 && IPV4.test(ips[0])) {
          if (ips[0] !== "0.0.0.0") out.listenIp = ips[0];
        } else if (ips.length > 1) out.problems.push({ ...where, problem: "ListenIP lists several addresses: the nanoprobe binds one; set bindAddress" });
        else out.problems.push({ ...where, problem: `ListenIP ${JSON.stringify(value.slice(0, 60))} is not an IPv4 address` });
      } else {
        out.hostnameItem = value;
      }
    });
    visiting.delete(abs);
  };

  readFile(path, 0);
  return out;
}

/** An Include value → the files it names, in name order (as the agent reads them). */
function expandInclude(value: string, fromFile: string, where: { file: string; line: number }, problems: AgentConfigProblem[]): string[] {
  if (!value) {
    problems.push({ ...where, problem: "Include without a path" });
    return [];
  }
  const path = resolve(dirname(fromFile), value);
  const name = basename(path);
  try {
    if (name.includes("*")) {
      const dir = dirname(path);
      const re = new RegExp(`^${name.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
      return readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
    }
    if (statSync(path).isDirectory()) return readdirSync(path).sort().map((f) => join(path, f)).filter((f) => statSync(f).isFile());
    return [path];
  } catch (e) {
    problems.push({ ...where, problem: `Include ${value}: ${(e as Error).message}` });
    return [];
  }
}
