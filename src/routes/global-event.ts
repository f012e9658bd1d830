import type { FastifyReply, FastifyRequest } from "fastify";
import type { EventSources } from "../sources/sources.js";
import { openStream, refuseForUpstream, resolveForClient, type StreamOptions } from "./stream.js";

/**
 * `GET /global/event` served by the shim itself, for when it is not on upstream's own
 * global stream (it polls): every followed instance's events, wrapped as opencode wraps
 * them — the client's own instance among them from the start. Upstream still decides who
 * may see it.
 */
export async function serveGlobalEvent(
  options: StreamOptions,
  sources: EventSources,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const resolution = await resolveForClient(options, request, reply);
  if (!resolution) return;
  try {
    await sources.prepare(resolution.directory);
  } catch (error) {
    await refuseForUpstream(options, request, reply, error, "cannot read upstream's state: ");
    return;
  }
  openStream(options, request, reply, resolution, undefined, undefined);
}
