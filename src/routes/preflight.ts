import type { FastifyReply, FastifyRequest } from "fastify";
import { isAllowedPreflight, preflightHeaders } from "./cors.js";

/**
 * `OPTIONS` on one of the shim's streams: a preflight from an origin the shim allows
 * (`--cors` included) is answered here, as opencode answers its own; any other is
 * upstream's to answer.
 */
export function answerPreflight(
  corsOrigins: readonly string[],
  passOn: (request: FastifyRequest, reply: FastifyReply) => FastifyReply,
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isAllowedPreflight(request.method, request.headers, corsOrigins)) return passOn(request, reply);
    return reply.code(204).headers(preflightHeaders(request.headers)).send();
  };
}
