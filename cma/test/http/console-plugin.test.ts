import assert from "node:assert/strict";
import { api, scenarioParts } from "./api-fixture.js";

describe("cma/http/console-plugin", () => {
  it("serves the console's page, every module it imports and uPlot, under the strict policy, open without credentials", async () => {
    const { app } = await api(scenarioParts());
    try {
      const page = await app.inject("/console/");
      assert.equal(page.statusCode, 200);
      assert.match(page.headers["content-security-policy"] as string, /^default-src 'self';/);
      assert.doesNotMatch(page.body, /<script>|<style|style="|https?:\/\//, "no inline script or style, nothing from another origin");
      // follow the imports from the entry module: each one is served as JavaScript
      const seen = new Set<string>();
      const queue = ["/console/main.js"];
      while (queue.length) {
        const url = queue.pop()!;
        if (seen.has(url)) continue;
        seen.add(url);
        const res = await app.inject(url);
        assert.equal(res.statusCode, 200, url);
        assert.match(res.headers["content-type"] as string, /^text\/javascript/, url);
        for (const m of res.body.matchAll(/^import .* from "(\.\/[^"]+)";$/gm)) queue.push(new URL(m[1], `http://x${url}`).pathname);
      }
      assert.ok(seen.has("/console/vendor/uPlot.esm.js"), `uPlot is imported (${[...seen].join(" ")})`);
      // the page asks for every imported module at once (no round trip per import level)
      const preloaded = new Set([...page.body.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]));
      for (const m of seen) if (m !== "/console/main.js") assert.ok(preloaded.has(m), `${m} is preloaded`);
      for (const css of ["/console/console.css", "/console/vendor/uPlot.min.css"]) assert.match((await app.inject(css)).headers["content-type"] as string, /^text\/css/, css);
      assert.equal((await app.inject("/console/missing.js")).statusCode, 404);
    } finally {
      await app.close();
    }
  });
});
