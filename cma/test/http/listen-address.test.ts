import assert from "node:assert/strict";
import { ConfigError } from "@ringwatch/shared";
import { localUrl, parseListenAddress } from "../../src/http/listen-address.js";

describe("cma/http/listen-address", () => {
  it("parses host:port and [ipv6]:port, port 0 included; empty or off disables", () => {
    assert.deepEqual(parseListenAddress("127.0.0.1:1984"), { host: "127.0.0.1", port: 1984 });
    assert.deepEqual(parseListenAddress(" localhost:0 "), { host: "localhost", port: 0 });
    assert.deepEqual(parseListenAddress("[::1]:8080"), { host: "::1", port: 8080 });
    assert.equal(parseListenAddress(""), undefined);
    assert.equal(parseListenAddress("OFF"), undefined);
  });

  it("refuses anything else with a ConfigError naming the option", () => {
    for (const bad of ["127.0.0.1", ":1984", "127.0.0.1:65536", "::1:80", "[nothex]:80", "a b:1", "1.2.3.4:80x"]) {
      assert.throws(() => parseListenAddress(bad), (e: Error) => e instanceof ConfigError && e.message.startsWith("httpListen:"), bad);
    }
  });

  it("a local client reaches a wildcard address on loopback", () => {
    assert.equal(localUrl({ host: "0.0.0.0", port: 1984 }), "http://127.0.0.1:1984");
    assert.equal(localUrl({ host: "::", port: 1984 }), "http://[::1]:1984");
    assert.equal(localUrl({ host: "10.1.2.3", port: 80 }), "http://10.1.2.3:80");
  });
});
