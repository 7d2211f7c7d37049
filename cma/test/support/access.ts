/**
 * Credentials for tests, made offline in a data directory before the API or CMA starts (as an
 * operator would with `ringwatch-cma user add` / `token create`). Nothing in a test switches
 * access control off: every request carries a real token or a real session.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, InjectOptions } from "fastify";
import { AccessStore } from "../../src/access/access-store.js";
import type { Role } from "../../src/access/roles.js";

export const TEST_USER = "tester";
export const TEST_PASSWORD = "correct horse battery staple";

export interface TestAccess {
  store: AccessStore;
  token: string;
  /** headers carrying the token */
  auth: { authorization: string };
}

function tokenIn(store: AccessStore, role: Role): TestAccess {
  const { token } = store.createToken({ name: `test ${role}`, role, expiresAt: null, createdBy: "test" });
  return { store, token, auth: { authorization: `Bearer ${token}` } };
}

/** A fresh access store in a temp directory holding one token of `role` (no users: nothing to hash). */
export function tokenStore(role: Role = "admin"): TestAccess {
  return tokenIn(AccessStore.open(mkdtempSync(join(tmpdir(), "rw-access-"))), role);
}

/** In a CMA's data directory, before it starts: a user (so the first start does not bootstrap and print an admin password) and a token of `role`. */
export async function prepareAccess(dataDir: string, role: Role = "admin"): Promise<TestAccess> {
  mkdirSync(dataDir, { recursive: true });
  const store = AccessStore.open(dataDir);
  if (!store.user(TEST_USER)) await store.addUser(TEST_USER, "admin", TEST_PASSWORD);
  return tokenIn(store, role);
}

/** The app with every inject carrying `authorization` (unless the request sets its own); everything else is the app itself. */
export function signedIn(app: FastifyInstance, authorization: string): FastifyInstance {
  const inject = (o: string | InjectOptions) => {
    const opts: InjectOptions = typeof o === "string" ? { url: o } : o;
    return app.inject({ ...opts, headers: { authorization, ...(opts.headers ?? {}) } });
  };
  return new Proxy(app, { get: (target, prop) => (prop === "inject" ? inject : Reflect.get(target, prop, target)) });
}
