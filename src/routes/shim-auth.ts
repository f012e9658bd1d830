import { timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { sendError, Unauthorized } from "../errors.js";
import { firstString } from "../helpers.js";

/** opencode's own challenge, word for word (measured on 1.14.48). */
export const CHALLENGE = 'Basic realm="Secure Area"';

/** The token a request carries: HTTP Basic's, or `?auth_token=` (base64 of user:password), as opencode takes them. */
function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith("Basic ")) return header.slice("Basic ".length).trim();
  return firstString((request.query as Record<string, unknown> | undefined)?.auth_token);
}

/**
 * Whether a request may see what opencode guards, judged as opencode judges it: with no
 * password set, any; else only with its credentials (`authorization` is the shim's own
 * `Basic …` header for upstream, made of the same ones).
 */
export function authorized(request: FastifyRequest, authorization: string | undefined): boolean {
  if (!authorization) return true;
  const token = tokenOf(request);
  if (token === undefined) return false;
  const given = Buffer.from(token);
  const expected = Buffer.from(authorization.slice("Basic ".length));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** opencode's 401: its challenge (so a browser asks for the credentials), and a JSON body saying why. */
export function refuse(reply: FastifyReply): FastifyReply {
  return sendError(reply.header("www-authenticate", CHALLENGE), new Unauthorized());
}
