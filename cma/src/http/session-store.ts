/**
 * Where @fastify/session keeps sessions: in memory (one CMA; a restart signs everybody out), bounded
 * in count and in age. The plugin's default MemoryStore never forgets a session whose browser went
 * away; this one drops expired sessions as it goes and the oldest past MAX_SESSIONS.
 */
import type { Session } from "fastify";

type Callback = (err?: unknown) => void;

export class BoundedSessionStore {
  /** insertion order is age order: the first entries are the oldest */
  private readonly sessions = new Map<string, { session: Session; expires: number }>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxSessions: number,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  set(id: string, session: Session, cb: Callback): void {
    const now = Date.now();
    this.sessions.delete(id);
    this.sessions.set(id, { session, expires: now + this.maxAgeMs });
    for (const [k, v] of this.sessions) {
      if (this.sessions.size <= this.maxSessions && v.expires > now) break;
      this.sessions.delete(k);
    }
    cb();
  }

  get(id: string, cb: (err: unknown, s?: Session | null) => void): void {
    const e = this.sessions.get(id);
    if (e && e.expires <= Date.now()) this.sessions.delete(id);
    cb(null, e && e.expires > Date.now() ? e.session : null);
  }

  destroy(id: string, cb: Callback): void {
    this.sessions.delete(id);
    cb();
  }
}
