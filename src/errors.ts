import createError, { type FastifyError } from "@fastify/error";
import type { FastifyReply } from "fastify";

// Every error a client can get from the shim itself, as Fastify keeps its own in
// lib/errors.js: the code (sent in lower case), the status, the message. The body is
// `{"error": "too_many_clients", "message": "…"}`. Upstream's own answers (its 404s) are
// not here: they pass as upstream sent them; so is opencode's 401, which the door
// (routes/door.ts) writes as opencode writes it, with an empty body.

/** A request the shim will not pass on: a target that is not a path, a directory no filesystem has. */
export const BadRequest = createError("BAD_REQUEST", "%s", 400);
/** One event stream more than `--max-clients` (sent with `Retry-After`). */
export const TooManyClients = createError(
  "TOO_MANY_CLIENTS",
  "the shim serves at most %d event streams",
  503,
);
/** A path under `/shim/` that is none of the shim's own (anything else is upstream's to answer). */
export const NotFound = createError(
  "NOT_FOUND",
  "the shim has no %s %s: its own routes are /shim/, /shim/health and /shim/metrics",
  404,
);
/** A stream asked to follow a session upstream does not know (asked with the client's own credentials). */
export const SessionNotFound = createError("NOT_FOUND", "%s", 404);
/** Upstream could not be reached, or answered in a way the shim cannot use. */
export const UpstreamUnavailable = createError("UPSTREAM_UNAVAILABLE", "%s", 502);
/** Upstream took longer than the shim's own short reads may wait. */
export const UpstreamTimeout = createError("UPSTREAM_TIMEOUT", "%s", 504);

/** Something in the shim failed that should not have (it is logged). */
export const InternalError = createError("INTERNAL_ERROR", "the shim failed: %s", 500);

/** Sends one of the errors above as its status and JSON body; anything else as an unavailable upstream. */
export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const known = isClientError(error)
    ? error
    : new UpstreamUnavailable(`upstream request failed: ${describeError(error)}`);
  return reply
    .code(known.statusCode ?? 502)
    .send({ error: known.code.toLowerCase(), message: known.message });
}

const CLIENT_ERRORS = [
  BadRequest,
  TooManyClients,
  NotFound,
  SessionNotFound,
  UpstreamUnavailable,
  UpstreamTimeout,
  InternalError,
];

/** Whether `error` is one of the errors above, a client's to be told as it is. */
export function isClientError(error: unknown): error is FastifyError {
  return CLIENT_ERRORS.some((kind) => error instanceof kind);
}

// The shim's own failures, which the command line tells in one line and exits on.

/** A flag or variable with a value the shim cannot use (the command line exits 2). */
export const InvalidConfig = createError("INVALID_CONFIG", "%s");
/** Upstream refused the shim's own credentials: waiting longer cannot help. */
export const CredentialsRefused = createError("CREDENTIALS_REFUSED", "%s", 502);

/** A one-line description of any error (a network error's code included), for logs and error bodies. */
export function describeError(error: unknown): string {
  if (isClientError(error) || error instanceof InvalidConfig || error instanceof CredentialsRefused) {
    return error.message;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = (error as { cause?: unknown }).cause;
    const causeCode = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
    const detail = typeof code === "string" ? code : typeof causeCode === "string" ? causeCode : undefined;
    return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
  }
  return String(error);
}

/** An error's own message, without the code `describeError` adds. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
