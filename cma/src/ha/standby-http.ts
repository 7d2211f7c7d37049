/**
 * What a standby CMA answers on its HTTP port (httpListen) while it does not lead: 503 on every
 * route, as JSON saying that it stands by and who leads. A load balancer's health check
 * (GET /api/health) then sends operators and scripts to the leader, and a call that reached a
 * standby fails at once with the reason, instead of a refused connection.
 *
 * Plain node:http(s), not fastify: a standby holds no users, tokens or state to serve, so there is
 * nothing to authenticate; the CMA's whole API starts when it leads. The port is released before
 * the elected CMA opens its own server on it, and taken again when it stands by.
 */
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Logger } from "@ringwatch/shared";
import type { ListenAddress } from "../http/listen-address.js";

export interface StandbyInfo {
  /** the leader key's value (identity@host:pid), "" when nobody leads */
  leader: string;
  /** every CMA registered in etcd ("host:port" of their UDP channel) */
  cmas: string[];
}

export class StandbyHttp {
  private server: Server | undefined;
  /** requests answered while standing by */
  answered = 0;

  constructor(
    private readonly listen: ListenAddress | undefined,
    private readonly tls: { cert: Buffer; key: Buffer } | undefined,
    private readonly info: () => StandbyInfo,
    private readonly log: Logger,
  ) {}

  /** Take the port (no-op without httpListen); a port another process holds is logged, not fatal: the standby still stands by. */
  async open(): Promise<void> {
    if (!this.listen || this.server) return;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.answer(req, res);
    const server = this.tls ? createHttpsServer(this.tls, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => {
      server.once("error", (e) => {
        this.log.warn({ err: e.message, listen: `${this.listen!.host}:${this.listen!.port}` }, "standby: HTTP port not available, not answering on it");
        resolve();
      });
      server.listen(this.listen!.port, this.listen!.host, () => {
        this.server = server;
        resolve();
      });
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    this.answered++;
    req.resume(); // a body is not read, only drained
    const { leader, cmas } = this.info();
    const body = JSON.stringify({
      error: "standby", status: "standby",
      message: leader ? `this CMA stands by; ${leader} leads: use its address (one of the cluster's CMAs: ${cmas.join(", ") || "none registered"})` : "this CMA stands by and no CMA leads right now (an election is under way, or etcd is unreachable)",
      leader, cmas,
    });
    res.writeHead(503, { "content-type": "application/json; charset=utf-8", "retry-after": "1", "cache-control": "no-store" });
    res.end(body);
  }

  /** Release the port (before the elected CMA opens its own server on it). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
