import type { IncomingHttpHeaders } from "node:http";
import { UpstreamUnavailable } from "../errors.js";
import { queryOf } from "../helpers.js";
import { askUpstream, type UpstreamAnswer } from "./ask.js";
import type { Upstream } from "./upstream.js";

/** Request headers that decide which instance a request means and whether it may see it. */
const FORWARDED_HEADERS = [
  "authorization",
  "cookie",
  "origin",
  "x-opencode-directory",
  "x-opencode-workspace",
];
/** Response headers of upstream's answer that belong on the client's stream too. */
const CORS_HEADERS = [
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-expose-headers",
  "vary",
];
/** Headers of a refusal that must not be copied as they are (the body is re-sent whole). */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

export type InstanceResolution =
  | { ok: true; directory: string; headers: Record<string, string | string[]> }
  | { ok: false; statusCode: number; headers: Record<string, string | string[]>; body: Buffer };

/** The client's headers that upstream judges a request by, to ask upstream as the client. */
export function clientHeaders(requestHeaders: IncomingHttpHeaders): Record<string, string> {
  const asClient: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = requestHeaders[name];
    if (typeof value === "string") asClient[name] = value;
  }
  return asClient;
}

/** Upstream's refusal, to send on as it is (its body whole, without the hop headers). */
export function refusalOf(answer: UpstreamAnswer): Extract<InstanceResolution, { ok: false }> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
  }
  return { ok: false, statusCode: answer.statusCode, headers, body: answer.body };
}

/**
 * Asks upstream which instance a client's request names — `GET /path` with the client's
 * own query string and credentials — exactly as upstream would decide it, so a client
 * upstream would refuse is refused here with upstream's own answer. It also boots the
 * instance upstream, which makes its events start flowing.
 */
export async function resolveInstance(
  upstream: Upstream,
  requestUrl: string,
  requestHeaders: IncomingHttpHeaders,
): Promise<InstanceResolution> {
  const asClient = clientHeaders(requestHeaders);
  const answer = await askUpstream(upstream, `/path${queryOf(requestUrl)}`, { asClient });
  if (answer.statusCode !== 200) return refusalOf(answer);
  let directory: unknown;
  try {
    directory = answer.json<{ directory?: unknown }>().directory;
  } catch {
    directory = undefined;
  }
  if (typeof directory !== "string" || directory === "") {
    throw new UpstreamUnavailable("upstream GET /path did not name a directory");
  }
  const cors: Record<string, string | string[]> = {};
  for (const name of CORS_HEADERS) {
    const value = answer.headers[name];
    if (value !== undefined) cors[name] = value;
  }
  return { ok: true, directory, headers: cors };
}
