import type { IncomingHttpHeaders } from "node:http";
import httpProxy from "@fastify/http-proxy";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { sendError } from "../errors.js";
import { resolveInstance } from "../upstream/instance.js";
import { passOnOptions } from "../upstream/pass-on.js";
import type { Upstream } from "../upstream/upstream.js";

export interface ProxyOptions {
  upstream: Upstream;
  /** Told of every request about to go upstream (not of WebSocket upgrades); a promise holds it until settled. */
  notice?: (request: FastifyRequest) => Promise<void> | undefined;
  /** Told of every proxied request once its answer has been sent, with the status sent. */
  answered?: (request: FastifyRequest, statusCode: number) => void;
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void;

/** Headers that belong to the client's own WebSocket handshake, not to the one upstream. */
const WS_HANDSHAKE_HEADERS = new Set([
  "host",
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "content-length",
  "transfer-encoding",
]);

function websocketHeaders(
  _defaults: unknown,
  request: { headers: IncomingHttpHeaders },
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || WS_HANDSHAKE_HEADERS.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/**
 * The proxy accepts a client's WebSocket before it dials upstream, so a refusal there
 * would reach the client as an open socket that closes. Asking upstream first (as the
 * client) turns it back into upstream's own HTTP answer, 401 and all.
 */
async function refuseUpgradesUpstreamWouldRefuse(
  upstream: Upstream,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  try {
    const resolution = await resolveInstance(upstream, request.url, request.headers);
    if (!resolution.ok)
      await reply.code(resolution.statusCode).headers(resolution.headers).send(resolution.body);
  } catch (error) {
    sendError(reply, error);
  }
}

/**
 * Before a request is proxied: WebSocket upgrades are checked with upstream first. Everything
 * else — nearly every request — goes on at once, without a promise, unless `notice` holds it.
 */
function beforeProxying(
  upstream: Upstream,
  notice: ((request: FastifyRequest) => Promise<void> | undefined) | undefined,
): Hook {
  const goOnUnlessAnswered = (reply: FastifyReply, done: () => void) => () => {
    if (!reply.sent) done();
  };
  return (request, reply, done) => {
    if (request.headers.upgrade?.toLowerCase() === "websocket") {
      refuseUpgradesUpstreamWouldRefuse(upstream, request, reply).then(goOnUnlessAnswered(reply, done), done);
      return;
    }
    const noticed = notice?.(request);
    if (noticed) noticed.then(() => done(), done);
    else done();
  };
}

/**
 * Everything that is not rebuilt goes to upstream untouched, through the shared pool:
 * any method, path, query, headers and body, streamed both ways, no timeouts, and
 * WebSocket upgrades (`/pty/{id}/connect`) with the client's credentials.
 */
export const proxy: FastifyPluginAsync<ProxyOptions> = async (app, { upstream, notice, answered }) => {
  // A callback hook, not an async one: every proxied request passes here.
  if (answered) {
    app.addHook("onResponse", (request, reply, done) => {
      answered(request, reply.statusCode);
      done();
    });
  }
  await app.register(httpProxy, {
    upstream: upstream.origin,
    websocket: true,
    preHandler: beforeProxying(upstream, notice),
    undici: upstream.pool,
    destroyAgent: false,
    disableRequestLogging: true,
    replyOptions: passOnOptions(upstream),
    wsClientOptions: { rewriteRequestHeaders: websocketHeaders },
  } as Parameters<typeof httpProxy>[1]);
};
