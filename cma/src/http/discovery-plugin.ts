/** The latest discovery documents over HTTP: which types a host sent, and one document. */
import type { FastifyPluginAsync } from "fastify";
import type { DiscoveryStore } from "../intake/discovery-store.js";
import { notFound } from "./errors.js";
import { hostName, hostParams, noQuery } from "./schemas.js";

export interface DiscoveryPluginOptions {
  discovery: DiscoveryStore;
}

export const discoveryPlugin: FastifyPluginAsync<DiscoveryPluginOptions> = async (app, { discovery }) => {
  app.get<{ Params: { host: string } }>("/api/discovery/:host", { schema: { params: hostParams, querystring: noQuery } }, async (req) => {
    const { host } = req.params;
    const types = discovery.types(host).sort();
    if (types.length === 0) throw notFound(`no discovery documents from host ${host}`);
    return { host, types };
  });

  app.get<{ Params: { host: string; discovertype: string } }>("/api/discovery/:host/:discovertype", {
    schema: {
      params: {
        type: "object",
        properties: { host: hostName, discovertype: { type: "string", minLength: 1, maxLength: 64 } },
        required: ["host", "discovertype"],
        additionalProperties: false,
      },
      querystring: noQuery,
    },
  }, async (req) => {
    const { host, discovertype } = req.params;
    const doc = discovery.latest(host, discovertype);
    if (!doc) throw notFound(`no ${discovertype} document from host ${host}`);
    return doc;
  });
};
