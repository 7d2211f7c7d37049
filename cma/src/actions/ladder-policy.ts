/**
 * The escalation ladder's policy (`actionPolicyFile`, JSON), validated whole at start: a bad file
 * stops the CMA naming what is wrong; without a file no guest is ever acted on automatically.
 *
 *   { "mode": "act",                       // or "dry-run": every step recorded as what it would do
 *     "default": ["notify", {"wait": "2m"}, "reboot", {"wait": "3m"}, "reset", {"wait": "5m"}, "escalate"],
 *     "guests": { "db1": "off", "6f1c…": ["notify", {"wait": "10m"}, "escalate"] },
 *     "tags": { "database": "off", "batch": ["notify", {"wait": "30m"}, "reset", "escalate"] },
 *     "limits": { "guestCooldown": "30m", "perHost": 3, "fleet": 10, "window": "10m" },
 *     "webhooks": ["https://chat.example/hooks/ringwatch"] }
 *
 * Steps: notify (a notification), reboot (ACPI, the guest asked), reset (the reset button),
 * escalate (a higher-severity notification; the ladder ends there), and waits between them. Guests
 * are named by UUID or name; tags are the guest's ringwatch tags (libvirt metadata, README "Actions
 * on guests"): a guest's own entry wins, then the first tag in the file's order it carries, then
 * the default. Limits: a guest acted on is not acted on again within guestCooldown;
 * at most perHost actions per host and fleet actions in all within window — past the fleet limit
 * the cause is common (a storage outage pauses every guest on it), so ladders escalate instead.
 */
import { readFileSync } from "node:fs";
import { ConfigError, TAG_RE } from "@ringwatch/shared";

export type LadderStep = { do: "notify" | "reboot" | "reset" | "escalate" } | { wait: number };

export interface LadderLimits {
  guestCooldownMs: number;
  perHost: number;
  fleet: number;
  windowMs: number;
}

export interface LadderPolicy {
  mode: "act" | "dry-run";
  default: LadderStep[];
  /** guest UUID (lower case) or name → its steps, or "off" */
  guests: Map<string, LadderStep[] | "off">;
  /** tag → its steps, or "off"; the file's order decides between two tags of one guest */
  tags: Map<string, LadderStep[] | "off">;
  limits: LadderLimits;
  webhooks: string[];
}

export const DEFAULT_LIMITS: LadderLimits = { guestCooldownMs: 1_800_000, perHost: 3, fleet: 10, windowMs: 600_000 };
const ACTS = new Set(["notify", "reboot", "reset", "escalate"]);
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** a ladder with more steps is a typo, not a policy */
const MAX_STEPS = 32;
const MAX_WAIT_MS = 24 * 3_600_000;

/** "2m", "90s", "500ms", "1h", or a number of ms */
export function duration(where: string, v: unknown, min = 0, max = MAX_WAIT_MS): number {
  let ms = NaN;
  if (typeof v === "number" && Number.isInteger(v)) ms = v;
  else if (typeof v === "string") {
    const m = /^(\d{1,9})(ms|s|m|h)$/.exec(v.trim());
    if (m) ms = Number(m[1]) * UNIT[m[2]];
  }
  if (!Number.isFinite(ms) || ms < min || ms > max) throw new ConfigError(`${where}: expected a duration from ${min} ms to ${max / 3_600_000} h ("90s", "2m", "1h" or ms), got ${JSON.stringify(v)}`);
  return ms;
}

function steps(where: string, v: unknown): LadderStep[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_STEPS) throw new ConfigError(`${where}: expected a list of 1 to ${MAX_STEPS} steps`);
  const out = v.map((s: unknown, i): LadderStep => {
    if (typeof s === "string") {
      if (!ACTS.has(s)) throw new ConfigError(`${where}[${i}]: unknown step ${JSON.stringify(s)} (notify, reboot, reset, escalate, or {"wait": "2m"})`);
      return { do: s as "notify" };
    }
    if (s && typeof s === "object" && !Array.isArray(s) && Object.keys(s).length === 1 && "wait" in s) return { wait: duration(`${where}[${i}].wait`, (s as { wait: unknown }).wait, 0) };
    throw new ConfigError(`${where}[${i}]: a step is "notify", "reboot", "reset", "escalate" or {"wait": DURATION}`);
  });
  const last = out[out.length - 1];
  if ("wait" in last) throw new ConfigError(`${where}: ends with a wait (nothing comes after it)`);
  return out;
}

function count(where: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 100_000) throw new ConfigError(`${where}: expected an integer from 1 to 100000, got ${JSON.stringify(v)}`);
  return v;
}

export function parseLadderPolicy(doc: unknown, source: string): LadderPolicy {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`${source}: expected a JSON object`);
  const { mode = "act", default: dflt, guests = {}, tags = {}, limits = {}, webhooks = [], ...rest } = doc as Record<string, unknown>;
  if (Object.keys(rest).length) throw new ConfigError(`${source}: unknown key ${JSON.stringify(Object.keys(rest)[0])} (known: mode, default, guests, tags, limits, webhooks)`);
  if (mode !== "act" && mode !== "dry-run") throw new ConfigError(`${source}: mode must be "act" or "dry-run", got ${JSON.stringify(mode)}`);
  if (!guests || typeof guests !== "object" || Array.isArray(guests)) throw new ConfigError(`${source}: guests must be an object (UUID or name → steps or "off")`);
  const g = new Map<string, LadderStep[] | "off">();
  for (const [k, v] of Object.entries(guests as Record<string, unknown>)) {
    if (!k || k.length > 255) throw new ConfigError(`${source}: guests: a key must be a UUID or name`);
    g.set(/^[0-9a-f-]{36}$/i.test(k) ? k.toLowerCase() : k, v === "off" ? "off" : steps(`${source}: guests.${k}`, v));
  }
  if (!tags || typeof tags !== "object" || Array.isArray(tags)) throw new ConfigError(`${source}: tags must be an object (tag → steps or "off")`);
  const t = new Map<string, LadderStep[] | "off">();
  for (const [k, v] of Object.entries(tags as Record<string, unknown>)) {
    if (!TAG_RE.test(k)) throw new ConfigError(`${source}: tags: ${JSON.stringify(k)} is not a tag (letters, digits and . _ : -, at most 64)`);
    t.set(k, v === "off" ? "off" : steps(`${source}: tags.${k}`, v));
  }
  if (!limits || typeof limits !== "object" || Array.isArray(limits)) throw new ConfigError(`${source}: limits must be an object`);
  const { guestCooldown, perHost, fleet, window, ...lrest } = limits as Record<string, unknown>;
  if (Object.keys(lrest).length) throw new ConfigError(`${source}: limits: unknown key ${JSON.stringify(Object.keys(lrest)[0])} (known: guestCooldown, perHost, fleet, window)`);
  if (!Array.isArray(webhooks) || webhooks.length > 16) throw new ConfigError(`${source}: webhooks must be a list of at most 16 URLs`);
  for (const [i, u] of webhooks.entries()) {
    let url: URL | undefined;
    try { url = new URL(String(u)); } catch { /* refused below */ }
    if (typeof u !== "string" || !url || (url.protocol !== "http:" && url.protocol !== "https:")) throw new ConfigError(`${source}: webhooks[${i}]: expected an http:// or https:// URL, got ${JSON.stringify(u)}`);
  }
  return {
    mode, default: dflt === undefined ? [] : steps(`${source}: default`, dflt), guests: g, tags: t, webhooks: webhooks as string[],
    limits: {
      guestCooldownMs: guestCooldown === undefined ? DEFAULT_LIMITS.guestCooldownMs : duration(`${source}: limits.guestCooldown`, guestCooldown),
      perHost: count(`${source}: limits.perHost`, perHost, DEFAULT_LIMITS.perHost),
      fleet: count(`${source}: limits.fleet`, fleet, DEFAULT_LIMITS.fleet),
      windowMs: window === undefined ? DEFAULT_LIMITS.windowMs : duration(`${source}: limits.window`, window, 1000),
    },
  };
}

export function loadLadderPolicy(file: string): LadderPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`actionPolicyFile ${file}: ${(e as Error).message}`);
  }
  return parseLadderPolicy(doc, `actionPolicyFile ${file}`);
}

/** The steps for a guest: its own (by UUID, then name), else its first tag's in the file's order, else the default; undefined: none (off, or no default) */
export function stepsFor(p: LadderPolicy, uuid: string, name: string, tags: readonly string[] = []): LadderStep[] | undefined {
  const own = p.guests.get(uuid.toLowerCase()) ?? p.guests.get(name) ?? [...p.tags].find(([tag]) => tags.includes(tag))?.[1];
  if (own === "off") return undefined;
  const s = own ?? p.default;
  return s.length ? s : undefined;
}
