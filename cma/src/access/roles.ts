/**
 * The three roles, each including the ones below it: a viewer reads, an operator also puts hosts in
 * maintenance (and later runs actions), an admin also manages users and tokens and removes hosts.
 * A route says the role it needs in its fastify config (`config: { role: "operator" }`); a route
 * that says none needs `viewer` (http/access-plugin.ts).
 */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(v: unknown): v is Role {
  return typeof v === "string" && (ROLES as readonly string[]).includes(v);
}

/** Does a principal with `has` hold at least `needs`? */
export function roleAllows(has: Role, needs: Role): boolean {
  return ROLES.indexOf(has) >= ROLES.indexOf(needs);
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** the least role a caller needs for this route (default viewer) */
    role?: Role;
  }
}
