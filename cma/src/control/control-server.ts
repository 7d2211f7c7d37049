/**
 * The CMA's control socket: a Unix domain socket (mode 0600, so only the CMA's user and root may
 * use it: filesystem permissions stand in for the authentication the HTTP API does not have yet)
 * where `ringwatch-cma host ...` puts hosts in maintenance, ends it, and removes hosts. One JSON
 * request per connection, one JSON line back (control-protocol.ts). Bad input gets a clear error and
 * is counted by reason; nothing a client sends can stop the CMA.
 *
 * Every request is audited (actor "local", via "control-socket"): done, refused or failed. The audit
 * log is checked before acting (a log that cannot be opened: refused, nothing changed); a command
 * done whose record then fails to write is answered as a failure that says it was done.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { Logger } from "@ringwatch/shared";
import { ConfigError } from "@ringwatch/shared";
import { AuditWriteError } from "../audit/audit-log.js";
import type { AuditLog, AuditOutcome } from "../audit/audit-log.js";
import { HostControlError } from "../membership/host-control.js";
import type { HostControl } from "../membership/host-control.js";
import type { HostRecord } from "../membership/membership.js";
import { MAX_REQUEST_BYTES, parseControlRequest } from "./control-protocol.js";
import type { ControlReply, ControlRequest } from "./control-protocol.js";

/** A client that sends nothing useful is dropped after this. */
const IDLE_MS = 5000;
/** Longest Unix socket path Linux takes (sun_path is 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;
/** Connections served at once (the CLI opens one per command). */
const MAX_CONNECTIONS = 16;

export interface ControlCounters {
  requests: number;
  done: number;
  /** refusals by reason: bad-request, too-large, timeout, unknown-host, bad-time, bad-reason, not-in-maintenance, busy, failed, audit-unavailable, audit-failed */
  refused: Record<string, number>;
}

/** The audit log's name for each request. */
const AUDIT_ACTION: Readonly<Record<ControlRequest["op"], string>> = { maintenance: "hostMaintenance", "end-maintenance": "hostMaintenanceEnd", remove: "hostRemove" };

/** What a request asked for, as the audit entry's detail. */
function requestDetail(req: ControlRequest): Record<string, unknown> {
  if (req.op === "maintenance") return { until: Number.isFinite(req.until) ? new Date(req.until).toISOString() : String(req.until), reason: req.reason };
  if (req.op === "remove") return { purge: req.purge };
  return {};
}

function hostResult(h: HostRecord): Record<string, unknown> {
  return { host: h.name, state: h.state, since: h.since, ...(h.maintenance ? { maintenance: { ...h.maintenance } } : {}) };
}

/** Is something listening on this socket path? (A stale file from a crashed CMA answers nothing.) */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

export class ControlServer {
  readonly counters: ControlCounters = { requests: 0, done: 0, refused: {} };

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  static async start(path: string, control: HostControl, audit: AuditLog, log: Logger): Promise<ControlServer> {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw new ConfigError(`controlSocket: ${path} is longer than a Unix socket path may be (${MAX_SOCKET_PATH_BYTES} bytes); set controlSocket to a shorter path`);
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(path);
    } catch {
      stat = undefined;
    }
    if (stat) {
      if (!stat.isSocket()) throw new ConfigError(`controlSocket: ${path} exists and is not a socket; not touching it`);
      if (await listening(path)) throw new ConfigError(`controlSocket: another process listens on ${path} (a CMA already running?)`);
      unlinkSync(path); // left by a CMA that did not stop cleanly
    }
    const server = createServer({ allowHalfOpen: true }) // a client may half-close after its request and still read the answer;
    server.maxConnections = MAX_CONNECTIONS;
    const cs = new ControlServer(path, server);
    server.on("connection", (sock) => cs.serve(sock, control, audit, log));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // the socket is created with mode 0600 (umask at bind time, then chmod): never a moment open to others
      const old = process.umask(0o177);
      try {
        server.listen(path, () => {
          server.off("error", reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    chmodSync(path, 0o600);
    server.on("error", (e) => log.error({ err: e.message }, "control socket error"));
    return cs;
  }

  private refuse(code: string): void {
    this.counters.refused[code] = (this.counters.refused[code] ?? 0) + 1;
  }

  /** Record one request's outcome; returns the error when the record could not be written. */
  private audit(audit: AuditLog, log: Logger, action: string, target: string | undefined, outcome: AuditOutcome, detail: Record<string, unknown>): AuditWriteError | undefined {
    try {
      audit.record({ actor: "local", via: "control-socket", from: "local", action, ...(target !== undefined ? { target } : {}), outcome, detail });
      return undefined;
    } catch (e) {
      log.error({ err: (e as Error).message, action, target, outcome }, "control request not audited");
      return e instanceof AuditWriteError ? e : new AuditWriteError((e as Error).message);
    }
  }

  /** The reply to a request that ran (done or refused), once its audit record is written. */
  private audited(req: ControlRequest, r: ControlReply, audit: AuditLog, log: Logger): ControlReply {
    const outcome: AuditOutcome = r.ok ? "ok" : r.error === "failed" || r.error === "busy" ? "failed" : "invalid";
    const detail = { ...requestDetail(req), ...(r.ok ? {} : { error: r.error, message: r.message }) };
    const failed = this.audit(audit, log, AUDIT_ACTION[req.op], req.host, outcome, detail);
    if (!failed || !r.ok) return r; // a refusal stays the answer; its missing record is logged
    return { ok: false, error: "audit-failed", message: `${req.op} ${req.host} was done, but its audit record could not be written (${failed.message}); fix the CMA's data directory` };
  }

  private serve(sock: Socket, control: HostControl, audit: AuditLog, log: Logger): void {
    let buf = "";
    let taken = false; // one request per connection: what follows it is ignored
    let answered = false;
    const reply = (r: ControlReply): void => {
      if (answered) return;
      answered = true;
      if (!r.ok) this.refuse(r.error);
      else this.counters.done++;
      sock.end(`${JSON.stringify(r)}\n`);
    };
    sock.setEncoding("utf8");
    sock.setTimeout(IDLE_MS, () => {
      if (!answered) this.refuse("timeout");
      answered = true;
      sock.destroy();
    });
    sock.on("error", () => undefined); // a client that went away: nothing to do
    const handle = (text: string): void => {
      if (taken) return;
      taken = true;
      this.counters.requests++;
      const req = parseControlRequest(text);
      if (typeof req === "string") {
        this.audit(audit, log, "controlRequest", undefined, "invalid", { error: "bad-request", message: req });
        return reply({ ok: false, error: "bad-request", message: req });
      }
      try {
        audit.ready();
      } catch (e) {
        log.error({ err: (e as Error).message, op: req.op }, "control request refused: the audit log cannot be written");
        return reply({ ok: false, error: "audit-unavailable", message: `${(e as Error).message}; nothing was changed` });
      }
      this.run(req, control).then((r) => reply(this.audited(req, r, audit, log)), (e: Error) => {
        if (e instanceof HostControlError) return reply(this.audited(req, { ok: false, error: e.code, message: e.message }, audit, log));
        log.error({ err: e.message, op: req.op }, "control request failed");
        reply(this.audited(req, { ok: false, error: "failed", message: e.message }, audit, log));
      });
    };
    sock.on("data", (chunk: string) => {
      if (taken || answered) return;
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl >= 0) return handle(buf.slice(0, nl));
      if (Buffer.byteLength(buf) > MAX_REQUEST_BYTES) {
        this.counters.requests++;
        this.audit(audit, log, "controlRequest", undefined, "invalid", { error: "too-large", message: `request over ${MAX_REQUEST_BYTES} bytes` });
        reply({ ok: false, error: "too-large", message: `request over ${MAX_REQUEST_BYTES} bytes` });
      }
    });
    sock.on("end", () => {
      if (taken) return; // answered when its work is done
      if (buf.trim()) handle(buf);
      else if (!answered) sock.end();
    });
  }

  private async run(req: ControlRequest, control: HostControl): Promise<ControlReply> {
    switch (req.op) {
      case "maintenance":
        return { ok: true, result: hostResult(control.startMaintenance(req.host, req.until, req.reason)) };
      case "end-maintenance":
        return { ok: true, result: hostResult(await control.endMaintenance(req.host)) };
      case "remove": {
        const t = control.remove(req.host, req.purge);
        return { ok: true, result: { host: t.name, state: "removed", removedAt: t.removedAt, purge: t.purge } };
      }
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Node removes the socket file on close
    });
  }
}
