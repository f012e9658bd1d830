import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { firstString } from "../helpers.js";
import { answerPreflight } from "./preflight.js";
import { type StreamRouteOptions, serveStream } from "./stream.js";

function workspaceOf(request: FastifyRequest): string | undefined {
  const fromQuery = firstString((request.query as Record<string, unknown> | undefined)?.workspace);
  return fromQuery || firstString(request.headers["x-opencode-workspace"]) || undefined;
}

/**
 * `GET /event`, rebuilt: the instance is the one upstream says the request names; the
 * stream is served from the hub, framed as opencode frames it, resumable by `Last-Event-ID`.
 */
export const eventRoute: FastifyPluginAsync<StreamRouteOptions> = async (app, options) => {
  app.get("/event", { exposeHeadRoute: false }, async (request, reply) => {
    await serveStream(options, (directory) => options.sources.prepare(directory), request, reply, {
      global: false,
      workspace: workspaceOf(request),
    });
    return reply;
  });
  app.options("/event", answerPreflight(options.corsOrigins, options.passOn));
};
