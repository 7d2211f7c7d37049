/**
 * The operator console (cma/console/, TypeScript built by the project's `tsc -b` into
 * cma/dist/console/): its page and stylesheet from the source directory, its ES modules from the
 * build, and uPlot's ESM build and stylesheet read from the installed `uplot` package. All read once
 * at start (nothing from the network: the console works offline) and served under a policy that
 * lets a page run only this origin's scripts and styles. `/` leads to the console (the classic
 * one-page UI it replaced is gone: one sign-in form, one set of pages).
 */
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyPluginAsync } from "fastify";

const SOURCE_DIR = fileURLToPath(new URL("../../../console/", import.meta.url));
const BUILD_DIR = fileURLToPath(new URL("../../console/", import.meta.url));
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve("uplot")); // node_modules/uplot/dist
const TYPES: Readonly<Record<string, string>> = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" };
export const CONSOLE_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** route → file on disk: the page, its stylesheet, every compiled module, uPlot */
function consoleFiles(): Record<string, string> {
  const files: Record<string, string> = {
    "/console/": join(SOURCE_DIR, "index.html"),
    "/console/console.css": join(SOURCE_DIR, "console.css"),
    "/console/vendor/uPlot.esm.js": join(UPLOT_DIR, "uPlot.esm.js"),
    "/console/vendor/uPlot.min.css": join(UPLOT_DIR, "uPlot.min.css"),
  };
  for (const f of readdirSync(BUILD_DIR)) if (f.endsWith(".js")) files[`/console/${f}`] = join(BUILD_DIR, f);
  return files;
}

/** Where index.html lists the modules to fetch at once (else each import level is a round trip). */
const PRELOAD_MARK = "<!-- modulepreload -->";

/** the page with a modulepreload link for every module: the browser fetches them in parallel with main.js */
function pageWithPreloads(html: string, files: Record<string, string>): string {
  const modules = Object.keys(files).filter((r) => r.endsWith(".js") && r !== "/console/main.js");
  return html.replace(PRELOAD_MARK, modules.map((r) => `<link rel="modulepreload" href="${r}">`).join("\n"));
}

export const consolePlugin: FastifyPluginAsync = async (app) => {
  const files = consoleFiles();
  for (const [route, file] of Object.entries(files)) {
    const body = route === "/console/" ? pageWithPreloads(readFileSync(file, "utf8"), files) : readFileSync(file);
    const type = TYPES[file.split(".").pop()!];
    app.get(route, { schema: { querystring: { type: "object", additionalProperties: false } } }, async (_req, reply) =>
      reply
        .header("content-type", type)
        .header("content-security-policy", CONSOLE_CSP)
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-cache")
        .send(body));
  }
  app.get("/console", async (_req, reply) => reply.redirect("/console/"));
  app.get("/", { schema: { querystring: { type: "object", additionalProperties: false } } }, async (_req, reply) => reply.redirect("/console/"));
};
