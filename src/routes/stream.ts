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
import type { Hub } from "../hub/hub.js";
import { Subscriber } from "../hub/subscriber.js";
import type { EventSources } from "../sources/sources.js";
import { SSE_HEADERS } from "../sse.js";
import { type InstanceResolution, resolveInstance } from "../upstream/instance.js";
import { instanceNameProblem } from "../upstream/instance-name.js";
import type { Upstream } from "../upstream/upstream.js";
import { subscriberStreamOf } from "./chunked-stream.js";
import { streamCorsHeaders } from "./cors.js";

export interface StreamOptions {
  hub: Hub;
  upstream: Upstream;
  maxClientBufferBytes: number;
  /** Streams open at once; one more is answered 503. */
  maxClients: number;
  /** Browser origins allowed beyond opencode's own (`--cors`). */
  corsOrigins: readonly string[];
}

/** What the routes of the streams the shim rebuilds are given. */
export interface StreamRouteOptions extends StreamOptions {
  sources: EventSources;
  /** Hands a request to upstream as the proxy would. */
  passOn: (request: FastifyRequest, reply: FastifyReply) => FastifyReply;
}

/** The shim's own answers on its streams' routes carry CORS headers too, so a browser can read them. */
function withCors(options: StreamOptions, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.headers(streamCorsHeaders(firstString(request.headers.origin), options.corsOrigins));
}

/**
 * Asks upstream, as the client, which instance the request names. Undefined when the
 * reply has been sent already: upstream's own refusal, or a 502 when it cannot be asked.
 */
async function resolveForClient(
  options: StreamOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Extract<InstanceResolution, { ok: true }> | undefined> {
  const problem = instanceNameProblem(request);
  if (problem) {
    await sendError(withCors(options, request, reply), new BadRequest(problem));
    return undefined;
  }
  if (options.hub.subscriberTotal >= options.maxClients) {
    await tooManyClients(options, withCors(options, request, reply));
    return undefined;
  }
  let resolution: InstanceResolution;
  try {
    resolution = await resolveInstance(options.upstream, request.url, request.headers);
  } catch (error) {
    await refuseForUpstream(options, request, reply, error, "");
    return undefined;
  }
  if (!resolution.ok) {
    await reply.code(resolution.statusCode).headers(resolution.headers).send(resolution.body);
    return undefined;
  }
  return resolution;
}

/**
 * Answers a stream request upstream could not serve: 504 when it did not answer in time,
 * 502 otherwise, with a JSON body saying why.
 */
async function refuseForUpstream(
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

/**
 * Serves one of the shim's event streams: resolves the client's instance as upstream
 * would, has `prepare` follow it, then opens the stream — of that instance (`/event`), or
 * of every followed instance, the client's among them (the shim's own `/global/event`).
 */
export async function serveStream(
  options: StreamOptions,
  prepare: (directory: string) => Promise<void>,
  request: FastifyRequest,
  reply: FastifyReply,
  scope: { global: true } | { global: false; workspace: string | undefined },
): Promise<void> {
  const resolution = await resolveForClient(options, request, reply);
  if (!resolution) return;
  try {
    await prepare(resolution.directory);
  } catch (error) {
    await refuseForUpstream(options, request, reply, error, "cannot read upstream's state: ");
    return;
  }
  if (scope.global) openStream(options, request, reply, resolution, undefined, undefined);
  else openStream(options, request, reply, resolution, resolution.directory, scope.workspace);
}

function tooManyClients(options: StreamOptions, reply: FastifyReply) {
  return sendError(reply.header("retry-after", "5"), new TooManyClients(options.maxClients));
}

/**
 * Turns the reply into an event stream fed by the hub: `directory` for an instance's
 * `/event`, undefined for the whole server's `/global/event`.
 */
function openStream(
  options: StreamOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  resolution: Extract<InstanceResolution, { ok: true }>,
  directory: string | undefined,
  workspace: string | undefined,
): void {
  if (request.raw.destroyed) return;
  if (options.hub.subscriberTotal >= options.maxClients) {
    void tooManyClients(options, withCors(options, request, reply));
    return;
  }
  reply.hijack();
  const response = reply.raw;
  const cors = streamCorsHeaders(
    firstString(request.headers.origin),
    options.corsOrigins,
    resolution.headers,
  );
  response.writeHead(200, { ...SSE_HEADERS, ...cors });
  response.flushHeaders();
  const subscriber = new Subscriber(
    directory,
    workspace,
    subscriberStreamOf(response),
    options.maxClientBufferBytes,
  );
  subscriber.onClose(() => {
    if (subscriber.overflowed) request.log.warn("dropped a client that stopped reading its event stream");
  });
  options.hub.subscribe(subscriber, firstString(request.headers["last-event-id"]));
}
