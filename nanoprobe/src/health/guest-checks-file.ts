/**
 * The guest checks an operator configures (`guestChecksFile`, JSON), validated whole at start: a bad
 * file stops the nanoprobe with a message naming the entry, never a silently partial set.
 *
 *   { "defaults": { "intervalMs": 10000, "timeoutMs": 2000, "failures": 3 },
 *     "checks": [ { "guest": "web1", "http": "http://10.0.5.7/health", "expectStatus": 200 },
 *                 { "guest": "6f1c2a9e-…", "tcp": "10.0.5.8:5432", "failures": 5 },
 *                 { "tag": "web", "http": "http://{name}.guests.example/health" } ] }
 *
 * `guest` is a domain UUID or name on this hypervisor; `tag` instead checks every guest carrying
 * that ringwatch tag (libvirt metadata), one check per guest, made and dropped as tags and guests
 * change. A target may name the guest: `{name}` and `{uuid}` are replaced by the guest's (a guest
 * name that cannot stand in a host name or URL makes that guest's check fail, never the file).
 * Each check is a TCP connect (`tcp`: host:port), an HTTP GET (`http`: URL, `expectStatus`
 * default 200, redirects not followed) or a ping of the QEMU guest agent through libvirt
 * (`"agent": true`; libvirt counts its timeout in whole seconds, so timeoutMs is rounded up to one;
 * a guest without an agent channel is not pinged), or `"discovered": "tcp"`: a TCP connect to every
 * service the guest-flows discovery script saw the guest answer on (its own address and port), one
 * check per guest and service, made as services are discovered (discovered-services.ts).
 */
import { readFileSync } from "node:fs";
import { ConfigError, TAG_RE } from "@ringwatch/shared";

/** The target for one guest: {name} and {uuid} replaced (a name is put into a URL encoded). */
export function targetFor(spec: Pick<GuestCheckSpec, "kind" | "target">, guest: { name: string; uuid: string }): string {
  const name = spec.kind === "http" ? encodeURIComponent(guest.name) : guest.name;
  return spec.target.replaceAll("{name}", name).replaceAll("{uuid}", guest.uuid.toLowerCase());
}
/** a name and UUID a target is validated with: a template must make a valid target for a plain guest */
const SAMPLE_GUEST = { name: "guest", uuid: "00000000-0000-4000-8000-000000000000" };

export interface GuestCheckSpec {
  /** a domain UUID or name (undefined: every guest with `tag`) */
  guest?: string;
  /** a ringwatch tag: the check runs for every guest of this hypervisor carrying it */
  tag?: string;
  kind: "tcp" | "http" | "agent";
  /** host:port (tcp), the URL (http), or "guest-agent"; may hold {name} and {uuid}; DISCOVERED_TARGET for checks of discovered services */
  target: string;
  /** a TCP check of each service discovered on the guest (target: each one's address and port) */
  discovered?: true;
  expectStatus: number;
  intervalMs: number;
  timeoutMs: number;
  /** consecutive failures before the guest is unhealthy */
  failures: number;
}

/** the target of every agent check (one agent per guest) */
export const AGENT_TARGET = "guest-agent";
/** the target of a discovered-services entry: each check made from it targets one service */
export const DISCOVERED_TARGET = "discovered";
export const CHECK_DEFAULTS = { intervalMs: 10_000, timeoutMs: 2000, failures: 3 } as const;
const BOUNDS = { intervalMs: [100, 3_600_000], timeoutMs: [50, 60_000], failures: [1, 100] } as const;
/** a file listing more is a mistake, not a fleet: each check holds a timer and sockets */
export const MAX_CHECKS = 1000;

function int(where: string, name: keyof typeof BOUNDS, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const [lo, hi] = BOUNDS[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${where}: ${name} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  return v;
}

/** A target as written (it may name the guest), checked as the target it makes for a plain guest; errors show it as written. */
function targetTemplate(where: string, kind: "tcp" | "http", v: unknown): string {
  const made = typeof v === "string" ? targetFor({ kind, target: v }, SAMPLE_GUEST) : v;
  (kind === "tcp" ? tcpTarget : httpTarget)(where, made, v);
  return v as string;
}

function tcpTarget(where: string, made: unknown, v: unknown): void {
  const m = typeof made === "string" ? /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(made) : null;
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError(`${where}: tcp must be host:port (port 1–65535), got ${JSON.stringify(v)}`);
}

function httpTarget(where: string, made: unknown, v: unknown): void {
  let u: URL;
  try {
    u = new URL(String(made));
  } catch {
    throw new ConfigError(`${where}: http must be an http:// or https:// URL, got ${JSON.stringify(v)}`);
  }
  if (typeof v !== "string" || (u.protocol !== "http:" && u.protocol !== "https:")) throw new ConfigError(`${where}: http must be an http:// or https:// URL, got ${JSON.stringify(v)}`);
}

/** The checks in a parsed document. Throws ConfigError naming what is wrong. */
export function parseGuestChecks(doc: unknown, source: string): GuestCheckSpec[] {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`${source}: expected a JSON object with "checks"`);
  const { defaults = {}, checks, ...rest } = doc as Record<string, unknown>;
  if (Object.keys(rest).length) throw new ConfigError(`${source}: unknown key ${JSON.stringify(Object.keys(rest)[0])} (known: defaults, checks)`);
  if (!defaults || typeof defaults !== "object" || Array.isArray(defaults)) throw new ConfigError(`${source}: defaults must be an object`);
  const d = defaults as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!(k in BOUNDS)) throw new ConfigError(`${source}: defaults: unknown key ${JSON.stringify(k)} (known: ${Object.keys(BOUNDS).join(", ")})`);
  const base = { intervalMs: int(`${source}: defaults`, "intervalMs", d.intervalMs, CHECK_DEFAULTS.intervalMs), timeoutMs: int(`${source}: defaults`, "timeoutMs", d.timeoutMs, CHECK_DEFAULTS.timeoutMs), failures: int(`${source}: defaults`, "failures", d.failures, CHECK_DEFAULTS.failures) };
  if (!Array.isArray(checks)) throw new ConfigError(`${source}: checks must be a list`);
  if (checks.length > MAX_CHECKS) throw new ConfigError(`${source}: ${checks.length} checks, at most ${MAX_CHECKS}`);
  return checks.map((c: unknown, i) => {
    const where = `${source}: checks[${i}]`;
    if (!c || typeof c !== "object" || Array.isArray(c)) throw new ConfigError(`${where}: expected an object`);
    const { guest, tag, tcp, http, agent, discovered, expectStatus, intervalMs, timeoutMs, failures, ...extra } = c as Record<string, unknown>;
    if (Object.keys(extra).length) throw new ConfigError(`${where}: unknown key ${JSON.stringify(Object.keys(extra)[0])}`);
    if ((guest === undefined) === (tag === undefined)) throw new ConfigError(`${where}: give exactly one of guest (a domain UUID or name) or tag (every guest carrying it)`);
    if (guest !== undefined && (typeof guest !== "string" || !guest || guest.length > 255)) throw new ConfigError(`${where}: guest must be a domain UUID or name`);
    if (tag !== undefined && (typeof tag !== "string" || !TAG_RE.test(tag))) throw new ConfigError(`${where}: tag must be a ringwatch tag (letters, digits and . _ : -, at most 64), got ${JSON.stringify(tag)}`);
    if ([tcp, http, agent, discovered].filter((k) => k !== undefined).length !== 1) throw new ConfigError(`${where}: give exactly one of tcp (host:port), http (URL), agent (true) or discovered ("tcp")`);
    if (agent !== undefined && agent !== true) throw new ConfigError(`${where}: agent must be true (a ping of the QEMU guest agent), got ${JSON.stringify(agent)}`);
    if (discovered !== undefined && discovered !== "tcp") throw new ConfigError(`${where}: discovered must be "tcp" (a TCP connect to each service discovered on the guest), got ${JSON.stringify(discovered)}`);
    if (expectStatus !== undefined && (http === undefined || typeof expectStatus !== "number" || !Number.isInteger(expectStatus) || expectStatus < 100 || expectStatus > 599)) throw new ConfigError(`${where}: expectStatus must be an HTTP status (100–599), with http`);
    const kind = tcp !== undefined || discovered !== undefined ? "tcp" : http !== undefined ? "http" : "agent";
    const target = discovered !== undefined ? DISCOVERED_TARGET : kind === "agent" ? AGENT_TARGET : targetTemplate(where, kind as "tcp" | "http", kind === "tcp" ? tcp : http);
    const spec: GuestCheckSpec = {
      ...(guest !== undefined ? { guest: guest as string } : { tag: tag as string }), kind, target, ...(discovered !== undefined ? { discovered: true as const } : {}),
      expectStatus: (expectStatus as number | undefined) ?? 200,
      intervalMs: int(where, "intervalMs", intervalMs, base.intervalMs), timeoutMs: int(where, "timeoutMs", timeoutMs, base.timeoutMs), failures: int(where, "failures", failures, base.failures),
    };
    if (spec.timeoutMs >= spec.intervalMs) throw new ConfigError(`${where}: timeoutMs (${spec.timeoutMs}) must be below intervalMs (${spec.intervalMs})`);
    return spec;
  });
}

export function loadGuestChecks(file: string): GuestCheckSpec[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`guestChecksFile ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`guestChecksFile ${file}: not valid JSON: ${(e as Error).message}`);
  }
  return parseGuestChecks(doc, `guestChecksFile ${file}`);
}
