/**
 * An API token the CMA holds for a service it configures itself (the Zabbix scripts that call its
 * API): the secret kept in a file of the data directory (mode 0600), checked against the access
 * store before each use. One that no longer verifies (revoked, expired, the access file replaced)
 * is replaced: tokens of that name are revoked and a new one made, so exactly one stands. To stop
 * the service's access, switch the service off in the configuration (revoking alone is undone).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@ringwatch/shared";
import type { AccessStore } from "./access-store.js";
import type { Role } from "./roles.js";

export class ServiceToken {
  readonly path: string;
  readonly counters = { created: 0 };

  constructor(
    private readonly access: AccessStore, dataDir: string, private readonly name: string, private readonly role: Role, private readonly log: Logger,
    /** told of each token made (the CMA audits it) */
    private readonly onCreate: (id: string) => void = () => undefined,
  ) {
    this.path = join(dataDir, `${name}.token`);
  }

  /** The secret, valid now (a new one made when the kept one is not). */
  secret(now = Date.now()): string {
    const kept = existsSync(this.path) ? readFileSync(this.path, "utf8").trim() : "";
    const check = kept ? this.access.checkToken(kept, now) : undefined;
    if (check?.ok && check.token.role === this.role) return kept;
    for (const t of this.access.tokens(now)) if (t.name === this.name && t.state === "active") this.access.revokeToken(t.id, now);
    const { token, view } = this.access.createToken({ name: this.name, role: this.role, expiresAt: null, createdBy: "cma" }, now);
    writeFileSync(this.path, `${token}\n`, { mode: 0o600 });
    this.counters.created++;
    this.onCreate(view.id);
    this.log.info({ name: this.name, role: this.role, id: view.id, why: check ? check.ok ? "another role" : check.why : "none kept" }, "service API token made");
    return token;
  }
}
