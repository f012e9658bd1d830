import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { Hub } from "../hub/hub.js";
import { Subscriber } from "../hub/subscriber.js";
import { SSE_HEADERS } from "../sse.js";
import { UpstreamError } from "../upstream/errors.js";
import { resolveInstance } from "../upstream/instance.js";
import type { Upstream } from "../upstream/upstream.js";

export interface EventRouteOptions {
  hub: Hub;
  upstream: Upstream;
  maxClientBufferBytes: number;
}

function firstString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && typeof value[0] === "string") return value[0];
  return undefined;
}

function workspaceOf(request: FastifyRequest): string | undefined {
  const fromQuery = firstString((request.query as Record<string, unknown> | undefined)?.workspace);
  return fromQuery || firstString(request.headers["x-opencode-workspace"]) || undefined;
}

/**
 * `GET /event`, rebuilt: the instance is the one upstream says the request names; the
 * stream is served from the hub, framed as opencode frames it, resumable by `Last-Event-ID`.
 */
export const eventRoute: FastifyPluginAsync<EventRouteOptions> = async (app, options) => {
  app.get("/event", { exposeHeadRoute: false }, async (request, reply) => {
    let resolution: Awaited<ReturnType<typeof resolveInstance>>;
    try {
      resolution = await resolveInstance(options.upstream, request.url, request.headers);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const statusCode = error instanceof UpstreamError ? error.statusCode : 502;
      request.log.warn({ reason: message }, "cannot open /event");
      return reply.code(statusCode).send({ error: "upstream_unavailable", message });
    }
    if (!resolution.ok) {
      return reply.code(resolution.statusCode).headers(resolution.headers).send(resolution.body);
    }
    if (request.raw.destroyed) return reply;

    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, { ...SSE_HEADERS, ...resolution.headers });
    response.flushHeaders();
    const subscriber = new Subscriber(
      resolution.directory,
      workspaceOf(request),
      response,
      options.maxClientBufferBytes,
    );
    subscriber.onClose(() => {
      if (subscriber.overflowed) request.log.warn("dropped a client that stopped reading /event");
    });
    options.hub.subscribe(subscriber, firstString(request.headers["last-event-id"]));
    return reply;
  });
};
