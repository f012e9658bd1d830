import type { FastifyReplyFromHooks } from "@fastify/reply-from";
import type { FastifyReply } from "fastify";
import { describeError, sendError, UpstreamUnavailable } from "../errors.js";

/**
 * The headers upstream gets are the client's, as opencode would have read them (the door
 * kept the last of a repeated `Host` and `Authorization`): the client's `Host` too, so what
 * opencode builds from it — the `Link` of message paging, its same-origin checks — comes out
 * as if asked directly. `Expect` is the shim's to answer (Node sent the `100 Continue`);
 * passed on, undici refuses the request.
 */
const asClientSentThem: FastifyReplyFromHooks["rewriteRequestHeaders"] = (request, headers) => {
  const { expect: _answered, ...rest } = headers;
  const host = request.headers.host;
  return host ? { ...rest, host } : rest;
};

/**
 * Upstream's own hop-by-hop headers are about the shim's connection to it, not the client's:
 * copied, a client that asked to close would be kept open. Node writes the client's own.
 */
const withoutHopHeaders: FastifyReplyFromHooks["rewriteHeaders"] = (headers) => {
  const { connection: _connection, "keep-alive": _keepAlive, ...rest } = headers;
  return rest;
};

/** reply-from's error, whose cause says what went wrong on the way to upstream. */
const sendUnavailable: FastifyReplyFromHooks["onError"] = (reply, { error }) => {
  const why = describeError((error as { cause?: unknown }).cause ?? error);
  sendError(reply as FastifyReply, new UpstreamUnavailable(`upstream request failed: ${why}`));
};

/**
 * How a request is handed to upstream (`reply.from`), by the proxy and by the routes that
 * sometimes pass a request on: upstream's answer is the answer, at once — no retries that
 * would delay or repeat a request; a 502 with a JSON body when it cannot be had.
 */
export function passOnOptions(): FastifyReplyFromHooks {
  return {
    retryDelay: () => null,
    onError: sendUnavailable,
    rewriteRequestHeaders: asClientSentThem,
    rewriteHeaders: withoutHopHeaders,
  };
}
