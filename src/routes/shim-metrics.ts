import type { FastifyPluginAsync } from "fastify";
import type { PrometheusMetrics } from "../prometheus.js";

/** `GET /shim/metrics`: Prometheus text. */
export const metricsRoute: FastifyPluginAsync<{ metrics: PrometheusMetrics }> = async (app, { metrics }) => {
  app.get("/metrics", async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
