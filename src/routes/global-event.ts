import type { FastifyPluginAsync } from "fastify";
import { answerPreflight } from "./preflight.js";
import { type StreamRouteOptions, serveStream } from "./stream.js";

/**
 * `GET /global/event`: while upstream's stream feeds clients, upstream's, passed on as it
 * is. While the reconciler does, the shim serves it itself: every followed instance's
 * events, wrapped as opencode wraps them — the client's own instance among them from the
 * start. Upstream still decides who may see it.
 */
export const globalEventRoute: FastifyPluginAsync<StreamRouteOptions> = async (app, options) => {
  const { sources, passOn } = options;
  app.get("/global/event", { exposeHeadRoute: false }, async (request, reply) => {
    if (!sources.servesGlobalEvent) return passOn(request, reply);
    await serveStream(options, (directory) => sources.prepare(directory), request, reply, { global: true });
    return reply;
  });
  const preflight = answerPreflight(options.corsOrigins, passOn);
  app.options("/global/event", async (request, reply) =>
    sources.servesGlobalEvent ? preflight(request, reply) : passOn(request, reply),
  );
};
