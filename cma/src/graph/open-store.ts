/**
 * Which graph store the CMA uses: Neo4j when NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD are set
 * (credentials stay out of config files), else Kuzu on disk at <dataDir>/graph, or in a
 * temporary directory removed at close when the CMA has no dataDir; none when graphStore is
 * "none".
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@ringwatch/shared";
import type { Logger } from "@ringwatch/shared";
import type { CmaConfig } from "../config.js";
import type { GraphStore } from "./graph-store.js";
import { KuzuStore } from "./kuzu-store.js";
import { Neo4jStore } from "./neo4j-store.js";

type GraphConfig = Pick<CmaConfig, "graphStore" | "graphBufferPoolMb" | "dataDir">;

export function openGraphStore(cfg: GraphConfig, env: NodeJS.ProcessEnv, log: Logger): GraphStore | undefined {
  if (cfg.graphStore === "none") return undefined;
  const { NEO4J_URI: uri, NEO4J_USER: user, NEO4J_PASSWORD: password } = env;
  if (uri) {
    if (!user || !password) throw new ConfigError("NEO4J_URI is set but NEO4J_USER or NEO4J_PASSWORD is not");
    return new Neo4jStore({ uri, user, password, database: env.NEO4J_DATABASE || undefined, log });
  }
  if (cfg.graphStore === "neo4j") throw new ConfigError("graphStore is neo4j but NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD are not set");
  if (cfg.dataDir) return new KuzuStore({ path: join(cfg.dataDir, "graph"), bufferPoolMb: cfg.graphBufferPoolMb, log });
  const dir = mkdtempSync(join(tmpdir(), "ringwatch-graph-"));
  log.warn({ dir }, "no dataDir: the graph lives in a temporary directory and is lost at exit");
  const store = new KuzuStore({ path: join(dir, "graph"), bufferPoolMb: cfg.graphBufferPoolMb, log });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  };
  return store;
}
