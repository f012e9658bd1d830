import type { FastifyReplyFromHooks } from "@fastify/reply-from";
import type { FastifyReply } from "fastify";
import { describeError, sendError, UpstreamUnavailable } from "../errors.js";
import type { Upstream } from "./upstream.js";

/**
 * opencode builds absolute `Link` URLs (message paging) from the Host it was asked on —
 * upstream's own address. Point them back at the shim, where the client is.
 */
function linkBackToShim(upstream: Upstream): FastifyReplyFromHooks["rewriteHeaders"] {
  return (headers, request) => {
    const link = headers.link;
    const host = request?.headers.host;
    if (typeof link === "string" && link.includes(upstream.origin) && host) {
      headers.link = link.replaceAll(`<${upstream.origin}/`, `<${request?.protocol}://${host}/`);
    }
    return headers;
  };
}

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
export function passOnOptions(upstream: Upstream): FastifyReplyFromHooks {
  return {
    retryDelay: () => null,
    onError: sendUnavailable,
    rewriteHeaders: linkBackToShim(upstream),
  };
}
