import type { FastifyPluginAsync } from "fastify";
import type { Metrics } from "../metrics.js";

/** `GET /shim/metrics`: Prometheus text. */
export const metricsRoute: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get("/metrics", async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
