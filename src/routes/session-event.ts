import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { BadRequest, sendError } from "../errors.js";
import { firstString } from "../helpers.js";
import { sessionIdProblem } from "./followed-sessions.js";
import { type StreamRouteOptions, serveStream } from "./stream.js";
import { withCors } from "./stream-refusals.js";

/**
 * Whether a request's `Accept` names `text/event-stream` itself (as `EventSource`, the SDK
 * and `curl -H "Accept: text/event-stream"` do), not merely a wildcard a browser's page
 * load sends.
 */
export function namesEventStream(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const range of accept.split(",")) {
    const [type, ...parameters] = range.split(";");
    if (type?.trim().toLowerCase() !== "text/event-stream") continue;
    const refused = parameters.some((parameter) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(parameter));
    if (!refused) return true;
  }
  return false;
}

/**
 * `GET /session/{id}/event`, where users look for a session's own stream: asked for an
 * event stream, the same stream as `/event?session={id}`, in the session's instance. Any
 * other request there (opencode answers its web app) passes through untouched.
 */
export const sessionEventRoute: FastifyPluginAsync<StreamRouteOptions> = async (app, options) => {
  app.get("/session/:sessionID/event", { exposeHeadRoute: false }, async (request, reply) => {
    if (!namesEventStream(firstString(request.headers.accept))) return options.passOn(request, reply);
    const id = sessionIdOf(request);
    const problem = sessionIdProblem(id);
    if (problem) return sendError(withCors(options, request, reply), new BadRequest(problem));
    await serveStream(options, request, reply, { global: false, session: id });
    return reply;
  });
};

function sessionIdOf(request: FastifyRequest): string {
  return (request.params as { sessionID?: string }).sessionID ?? "";
}
