/**
 * Request validation for the HTTP API (fastify's schema validation, with our own Ajv settings):
 * JSON bodies are checked strictly (a string where a number belongs is an error, not converted),
 * while query strings and path parameters, which are always text, are converted to the declared
 * types (a parameter given once where a list is declared is a list of one). Unknown properties are
 * refused (400), never silently dropped.
 */
import { Ajv } from "ajv";
import type { FastifySchemaCompiler } from "fastify";

const common = { useDefaults: true, removeAdditional: false, allErrors: false, strict: true } as const;
const strict = new Ajv({ ...common, coerceTypes: false });
const fromText = new Ajv({ ...common, coerceTypes: "array" });

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === "body" ? strict : fromText;
  return ajv.compile(schema as object);
};

/** The JSON error body every refusal carries. */
export const errorSchema = {
  type: "object",
  properties: { error: { type: "string" }, message: { type: "string" } },
  required: ["error", "message"],
} as const;
