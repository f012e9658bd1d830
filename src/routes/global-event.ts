import type { FastifyPluginAsync } from "fastify";
import { answerPreflight } from "./preflight.js";
import { type StreamRouteOptions, serveStream } from "./stream.js";

/**
 * `GET /global/event`, served from the hub as `/event` is — whoever feeds it, upstream's
 * stream or the reconciler, so that no client is left on upstream's stream when it stops
 * telling the truth: every instance's events that the stream carries or the reconciler
 * follows, wrapped as opencode wraps them, the client's own instance among them from the
 * start. Upstream still decides who may see it.
 */
export const globalEventRoute: FastifyPluginAsync<StreamRouteOptions> = async (app, options) => {
  app.get("/global/event", { exposeHeadRoute: false }, async (request, reply) => {
    await serveStream(options, request, reply, { global: true });
    return reply;
  });
  app.options("/global/event", answerPreflight(options.corsOrigins, options.passOn));
};
