import assert from "node:assert/strict";
import { Script } from "node:vm";
import { api, scenarioParts } from "./api-fixture.js";

describe("cma/http/ui-plugin", () => {
  it("serves the page, its script and stylesheet, allowed to run only its own script", async () => {
    const { app } = await api(scenarioParts());
    try {
      const page = await app.inject("/");
      assert.equal(page.statusCode, 200);
      assert.match(page.headers["content-type"] as string, /^text\/html/);
      assert.match(page.headers["content-security-policy"] as string, /default-src 'self'/);
      assert.match(page.body, /<script src="\/ui\/app\.js" defer><\/script>/);
      const js = await app.inject("/ui/app.js");
      assert.match(js.headers["content-type"] as string, /^text\/javascript/);
      assert.doesNotThrow(() => new Script(js.body, { filename: "app.js" }), "the script parses");
      const css = await app.inject("/ui/style.css");
      assert.match(css.headers["content-type"] as string, /^text\/css/);
      // every element the script looks up is on the page, and it never parses data as HTML
      const ids = [...js.body.matchAll(/\$\("([a-z-]+)"\)/g)].map((m) => m[1]);
      assert.ok(ids.length > 5);
      for (const id of new Set(ids)) assert.match(page.body, new RegExp(`id="${id}"`), `#${id} on the page`);
      assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
      assert.equal((await app.inject("/ui/missing.js")).statusCode, 404);
    } finally {
      await app.close();
    }
  });
});
