import type { IncomingHttpHeaders } from "node:http";
import { describeError, isTimeout, UpstreamError } from "./errors.js";
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
  const queryStart = requestUrl.indexOf("?");
  const query = queryStart === -1 ? "" : requestUrl.slice(queryStart);
  const headers: Record<string, string> = { accept: "application/json" };
  for (const name of FORWARDED_HEADERS) {
    const value = requestHeaders[name];
    if (typeof value === "string") headers[name] = value;
  }

  let response: Awaited<ReturnType<Upstream["pool"]["request"]>>;
  let body: Buffer;
  try {
    response = await upstream.pool.request({
      method: "GET",
      path: `/path${query}`,
      headers,
      ...upstream.ownRequestTimeouts,
    });
    body = Buffer.from(await response.body.arrayBuffer());
  } catch (error) {
    if (isTimeout(error)) {
      throw new UpstreamError(`upstream did not answer GET /path in time: ${describeError(error)}`, 504);
    }
    throw new UpstreamError(`upstream unreachable: ${describeError(error)}`);
  }
  const responseHeaders = response.headers as Record<string, string | string[] | undefined>;

  if (response.statusCode !== 200) {
    const headersOut: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(responseHeaders)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) headersOut[name] = value;
    }
    return { ok: false, statusCode: response.statusCode, headers: headersOut, body };
  }

  let directory: unknown;
  try {
    directory = (JSON.parse(body.toString("utf8")) as { directory?: unknown }).directory;
  } catch {
    directory = undefined;
  }
  if (typeof directory !== "string" || directory === "") {
    throw new UpstreamError("upstream GET /path did not name a directory");
  }
  const cors: Record<string, string | string[]> = {};
  for (const name of CORS_HEADERS) {
    const value = responseHeaders[name];
    if (value !== undefined) cors[name] = value;
  }
  return { ok: true, directory, headers: cors };
}
