import replyFrom from "@fastify/reply-from";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { EventSources } from "../sources/sources.js";
import { passOnOptions } from "../upstream/pass-on.js";
import { eventRoute } from "./event.js";
import { globalEventRoute } from "./global-event.js";
import type { StreamOptions } from "./stream.js";

export interface StreamRoutesOptions extends StreamOptions {
  sources: EventSources;
}

/**
 * The event streams the shim serves, `/event` and `/global/event`, with their preflights.
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
  const passing = passOnOptions(upstream);
  const passOn = (request: FastifyRequest, reply: FastifyReply) => reply.from(request.url, passing);
  await app.register(eventRoute, { ...options, passOn });
  await app.register(globalEventRoute, { ...options, passOn });
};
