/**
 * The web UI: one static page, a stylesheet and a small script (cma/src/http/ui/, no build step),
 * read once at start and served with a policy that lets the page run only its own script.
 */
import { readFileSync } from "node:fs";
import type { FastifyPluginAsync } from "fastify";

const UI_DIR = new URL("../../../src/http/ui/", import.meta.url);
const FILES: Readonly<Record<string, string>> = {
  "/": "index.html",
  "/ui/app.js": "app.js",
  "/ui/style.css": "style.css",
};
const TYPES: Readonly<Record<string, string>> = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" };

export const uiPlugin: FastifyPluginAsync = async (app) => {
  for (const [route, file] of Object.entries(FILES)) {
    const body = readFileSync(new URL(file, UI_DIR));
    const type = TYPES[file.split(".").pop()!];
    app.get(route, { schema: { querystring: { type: "object", additionalProperties: false } } }, async (_req, reply) =>
      reply
        .header("content-type", type)
        .header("content-security-policy", "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-cache")
        .send(body));
  }
};
