import type { FastifyReply, FastifyRequest } from "fastify";
import { describeError, sendError, UpstreamUnavailable } from "../errors.js";
import type { Upstream } from "../upstream/upstream.js";

/** Request headers that are about the client's connection to the shim, not the request. */
const HOP_REQUEST = new Set(["connection", "keep-alive", "expect", "upgrade", "proxy-connection"]);
/** Response headers that are about upstream's connection to the shim. */
const HOP_RESPONSE = new Set(["connection", "keep-alive", "transfer-encoding"]);

/** Whether the path (not the query) has a `.` or `..` segment, spelled plainly or percent-encoded. */
export function hasDotSegments(url: string): boolean {
  const queryAt = url.indexOf("?");
  const path = (queryAt === -1 ? url : url.slice(0, queryAt)).replace(/%2e/gi, ".");
  return /(^|\/)\.\.?(\/|$)/.test(path);
}

/**
 * A path with dot segments goes to upstream as it came. opencode's router does not resolve
 * them (it answers such a path with its web app); the proxy's libraries refuse to pass one
 * on, as a guard against paths that would climb out of a prefix — which the shim, always
 * asking the one upstream at its root, has none of.
 */
export async function passAsItCame(
  upstream: Upstream,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers))
    if (value !== undefined && !HOP_REQUEST.has(name)) headers[name] = value;
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  try {
    const answer = await upstream.pool.request({
      method: request.method as "GET",
      path: request.raw.url ?? "/",
      headers,
      body: hasBody ? request.raw : undefined,
    });
    reply.code(answer.statusCode);
    for (const [name, value] of Object.entries(answer.headers))
      if (value !== undefined && !HOP_RESPONSE.has(name)) reply.header(name, value);
    await reply.send(answer.body);
  } catch (error) {
    sendError(reply, new UpstreamUnavailable(`upstream request failed: ${describeError(error)}`));
  }
}
