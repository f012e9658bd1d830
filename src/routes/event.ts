import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { BadRequest, sendError } from "../errors.js";
import { firstString } from "../helpers.js";
import { followedSessions } from "./followed-sessions.js";
import { answerPreflight } from "./preflight.js";
import { type StreamRouteOptions, serveStream } from "./stream.js";
import { withCors } from "./stream-refusals.js";

function workspaceOf(request: FastifyRequest): string | undefined {
  const fromQuery = firstString((request.query as Record<string, unknown> | undefined)?.workspace);
  return fromQuery || firstString(request.headers["x-opencode-workspace"]) || undefined;
}

/**
 * `GET /event`, rebuilt: the instance is the one upstream says the request names; the
 * stream is served from the hub, framed as opencode frames it, resumable by `Last-Event-ID`
 * (or `?lastEventID=`); with `?session=`, only the events about those sessions and their
 * descendants.
 */
export const eventRoute: FastifyPluginAsync<StreamRouteOptions> = async (app, options) => {
  app.get("/event", { exposeHeadRoute: false }, async (request, reply) => {
    const sessions = followedSessions((request.query as Record<string, unknown> | undefined)?.session);
    if (!sessions.ok) return sendError(withCors(options, request, reply), new BadRequest(sessions.problem));
    await serveStream(options, request, reply, {
      global: false,
      workspace: workspaceOf(request),
      sessions: sessions.ids,
    });
    return reply;
  });
  app.options("/event", answerPreflight(options.corsOrigins, options.passOn));
};
