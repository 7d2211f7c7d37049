// TEMPORARY until cma/src/graph/named-queries.ts lands from the graph branch: the agreed shape.
export interface NamedQueryParam { type: "string" | "int"; doc: string; default?: string | number }
export interface NamedQuery { name: string; description: string; cypher: string; params: Record<string, NamedQueryParam> }
