/**
 * The ingestion writes keys through a projection (`WITH r, r.key AS kv MATCH (n {key: kv})`) so
 * Kuzu uses its primary-key index; written plainly (`{key: r.key}`) Kuzu scans instead, slowly
 * but correctly. Kuzu 0.11 bound some projected MERGEs to the wrong node when a key appeared
 * twice in one UNWIND; the builders drop duplicate rows for that. This replays what the real
 * plugins write for randomised documents in both forms, on two real Kuzu databases, and
 * requires the same graph (without the duplicate rows dropped, it differs).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import kuzu from "kuzu";
import { kuzuDdl } from "../../src/graph/schema.js";
import { discoveryPlugins } from "../../src/graph/ingest/discovery-plugins.js";
import { combine } from "../../src/graph/ingest/phased.js";
import { AddressScopes } from "../../src/graph/ingest/address-scope.js";

const FIXTURES = fileURLToPath(new URL("../../../test/graph/fixtures/", import.meta.url));
const captured = (n: string): Record<string, unknown> => (JSON.parse(readFileSync(`${FIXTURES}${n}.json`, "utf8")) as { data: Record<string, unknown> }).data;

/** The same statement with keys looked up in place (Kuzu's scan path). */
export function plainForm(cypher: string): string {
  const fields = [...cypher.matchAll(/r\.(\w+) AS (kv2?|u)\b/g)];
  let s = cypher.replace(/ WITH r, a, r\.\w+ AS kv2 MATCH /, ", ").replace(/WITH r, (r\.\w+ AS (kv2?|u)(, )?)+ /, "");
  for (const [, f, v] of fields) s = s.replaceAll(`: ${v}}`, `: r.${f}}`);
  return s;
}

type Q = (cypher: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>[]>;

describe("cma/graph: Kuzu write forms", function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), "ringwatch-forms-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function open(name: string): Promise<{ q: Q; close: () => Promise<void> }> {
    const db = new kuzu.Database(join(dir, name), 256 * 1024 * 1024);
    const c = new kuzu.Connection(db);
    const q: Q = async (s, p) => {
      const ps = await c.prepare(s);
      if (!ps.isSuccess()) throw new Error(`${ps.getErrorMessage()}\n${s}`);
      const r = await c.execute(ps, (p ?? {}) as Record<string, never>);
      const one = Array.isArray(r) ? r[0] : r;
      const rows = await one.getAll();
      one.close();
      return rows as Record<string, unknown>[];
    };
    for (const d of kuzuDdl()) await q(d);
    return { q, close: async () => { await c.close(); await db.close(); } };
  }

  async function snapshot(q: Q): Promise<string[]> {
    const key = (n: Record<string, unknown>): string => `${String(n._label)}:${String(n.key ?? n.name ?? n.uuid ?? n.address ?? n.id)}`;
    const nodes = (await q("MATCH (n) RETURN n")).map((r) => {
      const { _id: _i, ...rest } = r.n as Record<string, unknown>;
      return JSON.stringify(rest, Object.keys(rest).sort());
    });
    const rels = (await q("MATCH (a)-[e]->(b) RETURN a, e, b")).map((r) => {
      const { _id: _i, _src: _s, _dst: _d, ...e } = r.e as Record<string, unknown>;
      return `${key(r.a as Record<string, unknown>)} ${JSON.stringify(e, Object.keys(e).sort())} ${key(r.b as Record<string, unknown>)}`;
    });
    return [...nodes, ...rels].sort();
  }

  for (const seed0 of [1, 2]) {
    it(`gives the graph Kuzu's scan path gives (randomised documents, seed ${seed0})`, async () => {
      let seed = seed0;
      const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      const base: Record<string, Record<string, unknown>> = Object.fromEntries(["libvirt-domains", "nics", "tcp-services", "lldp"].map((n) => [n, captured(n)]));
      const projected = await open(`p${seed0}`), plain = await open(`s${seed0}`);
      try {
        const scopes = new AddressScopes();
        for (let round = 0; round < 5; round++) {
          const items = [];
          for (let k = 0; k < 25; k++) {
            const host = `hv${Math.floor(rand() * 12)}`;
            const type = ["libvirt-domains", "nics", "tcp-services", "lldp"][Math.floor(rand() * 4)];
            const data = structuredClone(base[type]);
            if (type === "libvirt-domains") {
              data.domains = (data.domains as Record<string, unknown>[]).filter(() => rand() < 0.6).map((d) => ({
                ...d, state: ["running", "paused", "shutoff"][Math.floor(rand() * 3)],
                nics: (d.nics as Record<string, unknown>[]).map((n) => ({ ...n, addresses: rand() < 0.5 ? [`10.1.${Math.floor(rand() * 4)}.${Math.floor(rand() * 30)}`] : undefined })),
              }));
            }
            if (type === "tcp-services") (data.clients as unknown[]).push({ process: "app", pid: 4242, remoteIp: `10.1.${Math.floor(rand() * 4)}.${Math.floor(rand() * 30)}`, remotePort: 5432, count: 1 });
            if (type === "lldp") data.neighbours = (data.neighbours as unknown[]).filter(() => rand() < 0.7);
            items.push(discoveryPlugins.get(type)!.build(host, data, 1000 + round, () => undefined, { scopes, networksChanged: () => undefined }));
          }
          for (const s of combine(items, 500)) {
            await projected.q(s.cypher, s.params);
            await plain.q(plainForm(s.cypher), s.params);
          }
        }
        const a = await snapshot(projected.q), b = await snapshot(plain.q);
        assert.ok(a.length > 500, `graph has ${a.length} entries`);
        assert.deepEqual(a, b);
      } finally {
        await projected.close();
        await plain.close();
      }
    });
  }
});
