/**
 * Every refusal and failure of the HTTP API as clear JSON, {error, message}, with a status that
 * says whose fault it was: bad input 4xx (counted as rejected), our own failure 5xx (logged).
 * Graph store errors keep their code: syntax 400, write-refused 403, timeout 504, too-large 413,
 * store 500.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { GraphQueryError } from "../graph/graph-store.js";
import type { GraphQueryErrorCode } from "../graph/graph-store.js";

export interface ApiError {
  error: string;
  message: string;
}

export const GRAPH_ERROR_STATUS: Readonly<Record<GraphQueryErrorCode, number>> = {
  syntax: 400,
  "write-refused": 403,
  timeout: 504,
  "too-large": 413,
  store: 500,
};

/** fastify's own refusals, named for a caller rather than by fastify's internal codes */
const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "body-too-large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported-media-type",
  FST_ERR_CTP_INVALID_JSON_BODY: "bad-json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "bad-json",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "bad-request",
  FST_CSRF_INVALID_TOKEN: "csrf",
  FST_CSRF_MISSING_SECRET: "csrf",
};

/** An error a handler throws to refuse a request with a given status and code. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

export function notFound(message: string): HttpError {
  return new HttpError(404, "not-found", message);
}

/** The status and JSON body for an error thrown anywhere in a request. */
export function describeError(err: unknown): { status: number; body: ApiError } {
  if (err instanceof GraphQueryError) return { status: GRAPH_ERROR_STATUS[err.code] ?? 500, body: { error: err.code, message: err.message } };
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.code, message: err.message } };
  const fe = err as Partial<FastifyError>;
  if (fe.validation) return { status: 400, body: { error: "bad-request", message: fe.message ?? "invalid request" } };
  const status = typeof fe.statusCode === "number" ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    // SyntaxError from the JSON parser carries 400 and the parser's message
    const code = (fe.code && FASTIFY_CODES[fe.code]) ?? (err instanceof SyntaxError ? "bad-json" : "bad-request");
    return { status, body: { error: code, message: fe.message ?? "bad request" } };
  }
  return { status: 500, body: { error: "internal", message: "internal error (logged by the CMA)" } };
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = describeError(err);
    if (body.error === "internal") req.log.error({ err, url: req.url }, "HTTP request failed");
    else if (status >= 500) req.log.warn({ url: req.url, status, error: body.error, message: body.message }, "HTTP request not served");
    else req.log.debug({ url: req.url, status, error: body.error, message: body.message }, "HTTP request refused");
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    void reply.code(404).send({ error: "not-found", message: `no route ${req.method} ${req.url.split("?")[0].slice(0, 300)}` } satisfies ApiError);
  });
}
