import type { FastifyReply, FastifyRequest } from "fastify";

/** Longer than any path a filesystem takes (PATH_MAX is 4096). */
const MAX_DIRECTORY = 4096;
const MAX_WORKSPACE = 256;

function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/** The raw (still encoded) values of one query parameter. */
function rawQueryValues(url: string, name: string): string[] {
  const start = url.indexOf("?");
  if (start === -1) return [];
  const values: string[] = [];
  for (const pair of url.slice(start + 1).split("&")) {
    const equals = pair.indexOf("=");
    const key = equals === -1 ? pair : pair.slice(0, equals);
    if (decode(key) === name) values.push(equals === -1 ? "" : pair.slice(equals + 1));
  }
  return values;
}

/** The values a request gives for one naming parameter: the query's, then the header's. */
function named(request: FastifyRequest, name: string): string[] {
  const values = rawQueryValues(request.url, name);
  const header = request.headers[`x-opencode-${name}`];
  if (typeof header === "string") values.push(header);
  return values;
}

function nameProblem(request: FastifyRequest, name: string, maxLength: number): string | undefined {
  for (const raw of named(request, name)) {
    const value = decode(raw);
    if (value === undefined) return `${name} is not valid percent-encoding`;
    if (value.length > maxLength) return `${name} is longer than ${maxLength} characters`;
    if (value.includes("\0")) return `${name} contains a NUL character`;
  }
  return undefined;
}

/**
 * What is wrong with the way an event-stream request names its instance, if anything: a
 * clear 400 beats handing upstream a directory it can only choke on.
 */
export function instanceNameProblem(request: FastifyRequest): string | undefined {
  return nameProblem(request, "directory", MAX_DIRECTORY) ?? nameProblem(request, "workspace", MAX_WORKSPACE);
}

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
  reply
    .code(400)
    .send({ error: "bad_request", message: "the request target must be a path: this is no forward proxy" });
}
