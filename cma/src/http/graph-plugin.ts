/**
 * The graph over HTTP: the named root-cause queries, each its own endpoint whose parameters are
 * checked against the query's declared types (unknown ones refused), and an ad-hoc Cypher endpoint.
 * Both only ever call GraphStore.read(), the store's path that cannot write (Neo4j: a READ
 * session; Kuzu: a READ ONLY transaction), with time and row limits no caller can raise above the
 * configured maximum.
 */
import type { FastifyPluginAsync } from "fastify";
import type { GraphParams, GraphStore, ReadLimits, ReadResult } from "../graph/graph-store.js";
import type { NamedQuery, NamedQueryParam } from "../graph/named-queries.js";
import { HttpError } from "./errors.js";
import { noQuery } from "./schemas.js";

export interface GraphPluginOptions {
  store: GraphStore;
  queries: Readonly<Record<string, NamedQuery>>;
  /** the most any request may ask for, and what it gets when it asks for nothing */
  limits: ReadLimits;
}

/** A query answer over HTTP: the store's result and the limits it ran under. */
export interface QueryAnswer extends ReadResult {
  limits: ReadLimits;
}

const ROUTE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PARAM_NAME = "^[A-Za-z_][A-Za-z0-9_]{0,63}$";

const requestLimits = {
  timeoutMs: { type: "integer", minimum: 1 },
  maxRows: { type: "integer", minimum: 1 },
} as const;

function paramSchema(p: NamedQueryParam): Record<string, unknown> {
  const base = p.type === "int"
    ? { type: "integer", minimum: p.min ?? Number.MIN_SAFE_INTEGER, maximum: p.max ?? Number.MAX_SAFE_INTEGER }
    : { type: "string", maxLength: 4096 };
  return p.default === undefined ? { ...base, description: p.doc } : { ...base, description: p.doc, default: p.default };
}

/** The JSON schema of a named query's parameters: declared types, required unless defaulted, nothing else. */
export function namedQueryParamsSchema(q: NamedQuery): Record<string, unknown> {
  const entries = Object.entries(q.params);
  return {
    type: "object",
    properties: Object.fromEntries(entries.map(([k, p]) => [k, paramSchema(p)])),
    required: entries.filter(([, p]) => p.default === undefined).map(([k]) => k),
    additionalProperties: false,
  };
}

/** What the caller asked for, never above the configured maximum. */
export function clampLimits(max: ReadLimits, asked: Partial<ReadLimits>): ReadLimits {
  return { timeoutMs: Math.min(asked.timeoutMs ?? max.timeoutMs, max.timeoutMs), maxRows: Math.min(asked.maxRows ?? max.maxRows, max.maxRows) };
}

export const graphPlugin: FastifyPluginAsync<GraphPluginOptions> = async (app, o) => {
  const run = async (cypher: string, params: GraphParams, asked: Partial<ReadLimits>): Promise<QueryAnswer> => {
    const limits = clampLimits(o.limits, asked);
    const r = await o.store.read(cypher, params, limits);
    return { ...r, limits };
  };

  app.get("/api/queries", { schema: { querystring: noQuery } }, async () => ({
    queries: Object.values(o.queries).map((q) => ({ name: q.name, description: q.description, params: q.params, cypher: q.cypher })),
  }));

  for (const [name, q] of Object.entries(o.queries)) {
    if (!ROUTE_NAME.test(name)) throw new Error(`named query ${JSON.stringify(name)}: not usable as a URL path segment`);
    const params = namedQueryParamsSchema(q);
    app.get<{ Querystring: GraphParams }>(`/api/queries/${name}`, { schema: { querystring: params } }, async (req) =>
      // the parsed query string has no prototype; the store takes plain objects only
      ({ name, ...(await run(q.cypher, { ...req.query }, {})) }));
    app.post<{ Body: { params: GraphParams; timeoutMs?: number; maxRows?: number } }>(`/api/queries/${name}`, {
      schema: {
        body: {
          type: "object",
          properties: { params: { ...params, default: {} }, ...requestLimits },
          additionalProperties: false,
        },
        querystring: noQuery,
      },
    }, async (req) => ({ name, ...(await run(q.cypher, req.body.params, req.body)) }));
  }

  const unknownQuery = async (req: { params: { name: string } }): Promise<never> => {
    const known = Object.keys(o.queries).sort().join(", ");
    throw new HttpError(404, "unknown-query", `no named query ${JSON.stringify(req.params.name)} (known: ${known || "none"}; GET /api/queries lists them)`);
  };
  const nameParams = { type: "object", properties: { name: { type: "string" } }, required: ["name"] } as const;
  app.get<{ Params: { name: string } }>("/api/queries/:name", { schema: { params: nameParams } }, unknownQuery);
  app.post<{ Params: { name: string } }>("/api/queries/:name", { schema: { params: nameParams } }, unknownQuery);

  app.post<{ Body: { query: string; params: GraphParams; timeoutMs?: number; maxRows?: number } }>("/api/cypher", {
    schema: {
      body: {
        type: "object",
        properties: {
          query: { type: "string", minLength: 1 }, // its length is the store's to judge (413 too-large)
          params: { type: "object", propertyNames: { pattern: PARAM_NAME }, maxProperties: 64, default: {} },
          ...requestLimits,
        },
        required: ["query"],
        additionalProperties: false,
      },
      querystring: noQuery,
    },
  }, async (req) => {
    if (req.body.query.trim() === "") throw new HttpError(400, "bad-request", "body/query is blank");
    return run(req.body.query, req.body.params, req.body);
  });
};

/** Without a graph store the graph routes still exist, and say so clearly (503) rather than "no route". */
export const graphUnavailablePlugin: FastifyPluginAsync = async (app) => {
  const unavailable = async (): Promise<never> => {
    throw new HttpError(503, "unavailable", "this CMA has no graph store: graph queries cannot run");
  };
  app.get("/api/queries", unavailable);
  app.get("/api/queries/:name", unavailable);
  app.post("/api/queries/:name", unavailable);
  app.post("/api/cypher", unavailable);
};
