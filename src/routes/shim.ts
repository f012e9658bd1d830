import cors from "@fastify/cors";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { NotFound, sendError } from "../errors.js";
import { pathOf } from "../helpers.js";
import { letIn } from "../opencode/credentials.js";
import type { PrometheusMetrics } from "../prometheus.js";
import { allowedOrigin } from "./cors.js";
import { type HealthRouteOptions, healthRoute } from "./shim-health.js";
import { metricsRoute } from "./shim-metrics.js";
import { viewRoute } from "./shim-view.js";

export interface ShimRoutesOptions extends Omit<HealthRouteOptions, "authorized"> {
  corsOrigins: string[];
  metrics: PrometheusMetrics;
}

/**
 * The shim's own routes under `/shim/`: health, metrics, and the live event view. The door
 * (`door.ts`) guards them as opencode guards its own: with a password set, the view and the
 * metrics need its credentials and get opencode's 401 and challenge without them — so a
 * browser asks once, and the view's streams then carry them; the health says its status to
 * anyone and the rest only to those. They answer browsers on other origins as opencode
 * answers them (preflights included, which need no credentials).
 */
export const shimRoutes: FastifyPluginAsync<ShimRoutesOptions> = async (app, options) => {
  await app.register(cors, {
    origin: (origin, callback) => callback(null, allowedOrigin(origin, options.corsOrigins)),
    methods: ["GET", "HEAD", "OPTIONS"],
  });
  // Every path under /shim/ is the shim's: what it does not serve is its own 404, never upstream's.
  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, new NotFound(request.method, pathOf(request.url)));
  app.setNotFoundHandler(notFound);
  app.route({ method: ["DELETE", "PATCH", "POST", "PUT"], url: "/*", handler: notFound });
  await app.register(healthRoute, {
    hub: options.hub,
    upstream: options.upstream,
    sources: options.sources,
    authorized: (request) => letIn(request.raw, options.upstream.guard),
  });
  await app.register(metricsRoute, { metrics: options.metrics });
  await app.register(viewRoute);
};
