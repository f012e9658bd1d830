import type { FastifyReply, FastifyRequest } from "fastify";
import { openStream, resolveForClient, type StreamOptions } from "./stream.js";

/**
 * `GET /global/event` served by the shim itself, for when it is not on upstream's own
 * global stream (it polls): every instance's events, wrapped as opencode wraps them.
 * Upstream still decides who may see it.
 */
export async function serveGlobalEvent(
  options: StreamOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const resolution = await resolveForClient(options, request, reply);
  if (resolution) openStream(options, request, reply, resolution, undefined, undefined);
}
