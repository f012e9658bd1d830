import httpProxy from "@fastify/http-proxy";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { passOnOptions } from "../upstream/pass-on.js";
import type { Upstream } from "../upstream/upstream.js";
import { hasDotSegments, passAsItCame } from "./dot-segments.js";

export interface ProxyOptions {
  upstream: Upstream;
  /** Told of every request about to go upstream; a promise holds it until settled. */
  notice?: (request: FastifyRequest) => Promise<void> | undefined;
  /** Told of every proxied request once its answer has been sent, with the status sent. */
  answered?: (request: FastifyRequest, statusCode: number) => void;
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void;

/**
 * Before a request is proxied: nearly every request goes on at once, without a promise,
 * unless `notice` holds it; one with dot segments in its path is passed on as it came.
 */
function beforeProxying(
  upstream: Upstream,
  notice: ((request: FastifyRequest) => Promise<void> | undefined) | undefined,
): Hook {
  return (request, reply, done) => {
    if (hasDotSegments(request.raw.url ?? "")) {
      // Answered here; the proxy's handler, which would refuse it, is not reached.
      passAsItCame(upstream, request, reply).catch(done);
      return;
    }
    const noticed = notice?.(request);
    if (noticed) noticed.then(() => done(), done);
    else done();
  };
}

/**
 * Everything that is not rebuilt goes to upstream untouched, through the shared pool:
 * any method, path, query, headers and body, streamed both ways, no timeouts. (WebSocket
 * upgrades never get here: `websocket-tunnel.ts` passes them through as bytes.)
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
    preHandler: beforeProxying(upstream, notice),
    undici: upstream.pool,
    destroyAgent: false,
    disableRequestLogging: true,
    replyOptions: passOnOptions(),
  } as Parameters<typeof httpProxy>[1]);
};
