/** JSON schema pieces the API's routes share. */

/** A route that takes no query parameters still refuses unknown ones (a typo must not be ignored). */
export const noQuery = { type: "object", additionalProperties: false } as const;

/** A host name as the rings accept it (ring-service NAME_RE). */
export const hostName = { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" } as const;

export const hostParams = {
  type: "object",
  properties: { host: hostName },
  required: ["host"],
  additionalProperties: false,
} as const;
