import replyFrom from "@fastify/reply-from";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { passOnOptions } from "../upstream/pass-on.js";
import { eventRoute } from "./event.js";
import { globalEventRoute } from "./global-event.js";
import { sessionEventRoute } from "./session-event.js";
import type { StreamRouteOptions } from "./stream.js";

/** The routes' options but `passOn`, which this plugin makes. */
export type StreamRoutesOptions = Omit<StreamRouteOptions, "passOn">;

/**
 * The event streams the shim serves — `/event` (of some sessions, with `?session=`),
 * `/global/event`, and a session's own at `/session/{id}/event` — with their preflights.
 * What they leave to upstream (another origin's preflight, `/global/event` while the shim
 * is on upstream's stream) is handed on through the same pool and with the same answers
 * on failure as the proxy's.
 */
export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app, options) => {
  const { upstream } = options;
  await app.register(replyFrom, {
    base: upstream.origin,
    undici: upstream.pool,
    destroyAgent: false,
    disableRequestLogging: true,
  });
  const passing = passOnOptions();
  const passOn = (request: FastifyRequest, reply: FastifyReply) => reply.from(request.url, passing);
  await app.register(eventRoute, { ...options, passOn });
  await app.register(globalEventRoute, { ...options, passOn });
  await app.register(sessionEventRoute, { ...options, passOn });
};
