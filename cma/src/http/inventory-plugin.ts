/** The guest inventory over HTTP: domain counts per host, one host's domains, where a domain runs. */
import type { FastifyPluginAsync } from "fastify";
import type { InventoryStore } from "../intake/inventory-store.js";
import { notFound } from "./errors.js";
import { hostParams, noQuery } from "./schemas.js";

export interface InventoryPluginOptions {
  inventory: InventoryStore;
}

export const inventoryPlugin: FastifyPluginAsync<InventoryPluginOptions> = async (app, { inventory }) => {
  app.get("/api/inventory", { schema: { querystring: noQuery } }, async () => ({
    hosts: inventory.hosts().sort().map((host) => {
      const domains = inventory.domains(host);
      return { host, domains: domains.length, running: domains.filter((d) => d.state === "running").length };
    }),
  }));

  app.get<{ Params: { host: string } }>("/api/inventory/:host", { schema: { params: hostParams, querystring: noQuery } }, async (req) => {
    const { host } = req.params;
    if (!inventory.hosts().includes(host)) throw notFound(`no inventory from host ${host}`);
    return { host, domains: inventory.domains(host).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
  });

  app.get<{ Querystring: { name: string } }>("/api/domains", {
    schema: { querystring: { type: "object", properties: { name: { type: "string", minLength: 1, maxLength: 255 } }, required: ["name"], additionalProperties: false } },
  }, async (req) => ({
    domains: inventory.hosts().sort().flatMap((host) => inventory.domains(host).filter((d) => d.name === req.query.name).map((domain) => ({ host, domain }))),
  }));

  app.get<{ Params: { uuid: string } }>("/api/domains/:uuid", {
    schema: {
      params: { type: "object", properties: { uuid: { type: "string", pattern: "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$" } }, required: ["uuid"], additionalProperties: false },
      querystring: noQuery,
    },
  }, async (req) => {
    const uuid = req.params.uuid.toLowerCase();
    const host = inventory.hostOf(uuid) ?? inventory.hostOf(req.params.uuid);
    const domain = host ? inventory.domains(host).find((d) => d.uuid.toLowerCase() === uuid) : undefined;
    if (!host || !domain) throw notFound(`no domain ${req.params.uuid} in the inventory`);
    return { host, domain };
  });
};
