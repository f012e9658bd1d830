import type { FastifyReply, FastifyRequest } from "fastify";
import { CHALLENGE, letIn, readAsOpencode } from "../opencode/credentials.js";
import type { Upstream } from "../upstream/upstream.js";
import { allowedOrigin } from "./cors.js";

/**
 * The shim's own paths anyone may have: the health's status word and code (probes carry no
 * credentials), and the view's script and style (a page opened with `?auth_token=` loads
 * them without it).
 */
const OPEN_SHIM_PATHS = /^\/shim\/(health|[\w-]+\.(js|css))(\?|$)/;

/** opencode's 401, as it writes it: its challenge, an empty body, and CORS as for any answer. */
export function refuseAsOpencode(reply: FastifyReply, corsOrigins: readonly string[]): FastifyReply {
  const origin = reply.request.headers.origin;
  reply.code(401).header("www-authenticate", CHALLENGE);
  if (allowedOrigin(origin, corsOrigins)) {
    reply.header("vary", "Origin");
    if (origin) reply.header("access-control-allow-origin", origin);
  }
  return reply.send();
}

/**
 * The door every request passes first (an `onRequest` hook): read as opencode reads it,
 * and — when opencode has a password — a caller opencode would not let in gets opencode's
 * 401 before anything else is looked at: no routing error, no client limit, no word about
 * upstream. The shim's own routes are guarded the same way.
 */
export function opencodeDoor(upstream: Upstream, corsOrigins: readonly string[]) {
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    readAsOpencode(request.headers, request.raw.rawHeaders);
    if (letIn(request.raw, upstream.guard) || OPEN_SHIM_PATHS.test(request.url)) {
      done();
      return;
    }
    refuseAsOpencode(reply, corsOrigins);
  };
}
