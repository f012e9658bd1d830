import type { FastifyReply, FastifyRequest } from "fastify";
import {
  BadRequest,
  describeError,
  sendError,
  TooManyClients,
  UpstreamTimeout,
  UpstreamUnavailable,
} from "../errors.js";
import { firstString } from "../helpers.js";
import type { InstanceResolution } from "../upstream/instance.js";
import { instanceNameProblem } from "../upstream/instance-name.js";
import { streamCorsHeaders } from "./cors.js";
import type { StreamOptions } from "./stream.js";

// How the shim's event streams answer a request they cannot serve: its own errors, with the
// CORS headers a browser needs to read them, or upstream's refusal as upstream sent it.

/** The shim's own answers on its streams' routes carry CORS headers too, so a browser can read them. */
export function withCors(options: StreamOptions, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.headers(streamCorsHeaders(firstString(request.headers.origin), options.corsOrigins));
}

/** Refuses, before upstream is asked anything, a request that names its instance wrongly, or one stream too many. */
export async function refusedAtOnce(options: StreamOptions, request: FastifyRequest, reply: FastifyReply) {
  const problem = instanceNameProblem(request);
  if (problem) {
    await sendError(withCors(options, request, reply), new BadRequest(problem));
    return true;
  }
  if (options.hub.subscriberTotal >= options.maxClients) {
    await tooManyClients(options, withCors(options, request, reply));
    return true;
  }
  return false;
}

/** Sends upstream's own refusal on as it is. */
export function sendRefusal(reply: FastifyReply, refusal: Extract<InstanceResolution, { ok: false }>) {
  return reply.code(refusal.statusCode).headers(refusal.headers).send(refusal.body);
}

/**
 * Answers a stream request upstream could not serve: 504 when it did not answer in time,
 * 502 otherwise, with a JSON body saying why.
 */
export async function refuseForUpstream(
  options: StreamOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  what: string,
): Promise<void> {
  const message = `${what}${describeError(error)}`;
  request.log.warn({ reason: message }, "cannot open an event stream");
  const refusal =
    error instanceof UpstreamTimeout ? new UpstreamTimeout(message) : new UpstreamUnavailable(message);
  await sendError(withCors(options, request, reply), refusal);
}

/** One stream more than `--max-clients`: 503, with when to try again. */
export function tooManyClients(options: StreamOptions, reply: FastifyReply) {
  return sendError(reply.header("retry-after", "5"), new TooManyClients(options.maxClients));
}
