import type { FastifyReply, FastifyRequest } from "fastify";
import type { EventSources } from "../sources/sources.js";
import { type StreamOptions, serveStream } from "./stream.js";

/**
 * `GET /global/event` served by the shim itself, for when it is not on upstream's own
 * global stream (it polls): every followed instance's events, wrapped as opencode wraps
 * them — the client's own instance among them from the start. Upstream still decides who
 * may see it.
 */
export function serveGlobalEvent(
  options: StreamOptions,
  sources: EventSources,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  return serveStream(options, (directory) => sources.prepare(directory), request, reply, { global: true });
}
