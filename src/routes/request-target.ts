import type { FastifyReply, FastifyRequest } from "fastify";
import { BadRequest, sendError } from "../errors.js";

/**
 * An `onRequest` hook: a request whose target is not a path (absolute-form, as sent to a
 * forward proxy) is refused, so no request line can suggest another host. Upstream is
 * the only place the shim ever connects to in any case.
 */
export function refuseAbsoluteForm(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const target = request.raw.url ?? "";
  if (target.startsWith("/") || (target === "*" && request.method === "OPTIONS")) {
    done();
    return;
  }
  sendError(reply, new BadRequest("the request target must be a path: this is no forward proxy"));
}
