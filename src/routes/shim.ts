import cors from "@fastify/cors";
import type { FastifyPluginAsync } from "fastify";
import type { PrometheusMetrics } from "../prometheus.js";
import { allowedOrigin } from "./cors.js";
import { type HealthRouteOptions, healthRoute } from "./health.js";
import { metricsRoute } from "./metrics.js";
import { viewRoute } from "./view.js";

export interface ShimRoutesOptions extends HealthRouteOptions {
  corsOrigins: string[];
  metrics: PrometheusMetrics;
}

/**
 * The shim's own routes under `/shim/`: health, metrics, and the live event view. They answer
 * browsers on other origins as opencode answers them (preflights included).
 */
export const shimRoutes: FastifyPluginAsync<ShimRoutesOptions> = async (app, options) => {
  await app.register(cors, {
    origin: (origin, callback) => callback(null, allowedOrigin(origin, options.corsOrigins)),
    methods: ["GET", "HEAD", "OPTIONS"],
  });
  await app.register(healthRoute, { hub: options.hub, upstream: options.upstream, sources: options.sources });
  await app.register(metricsRoute, { metrics: options.metrics });
  await app.register(viewRoute);
};
