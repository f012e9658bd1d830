import { describeError, UpstreamTimeout, UpstreamUnavailable } from "../errors.js";
import { pathOf } from "../helpers.js";
import type { Upstream } from "./upstream.js";

export interface AskOptions {
  /**
   * The client's own headers to ask with (its credentials among them), so that upstream
   * judges the client; without them the shim asks with its own credentials.
   */
  asClient?: Record<string, string>;
  /** How long the answer may take; the shim's own short-read timeout when not given. */
  timeoutMs?: number;
}

/** Upstream's answer, read whole. */
export interface UpstreamAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body as JSON; throws `UpstreamUnavailable` when it is not. */
  json<T>(): T;
}

/**
 * One short read of upstream — `GET path`, JSON asked for — with a timeout, read whole.
 * Throws `UpstreamTimeout` when upstream does not answer in time, `UpstreamUnavailable`
 * when it cannot be reached; any status is the caller's to judge.
 */
export async function askUpstream(
  upstream: Upstream,
  path: string,
  { asClient, timeoutMs }: AskOptions = {},
): Promise<UpstreamAnswer> {
  const headers = asClient
    ? { ...asClient, accept: "application/json" }
    : upstream.ownHeaders({ accept: "application/json" });
  const timeouts = timeoutMs
    ? { headersTimeout: timeoutMs, bodyTimeout: timeoutMs }
    : upstream.ownRequestTimeouts;
  const what = `GET ${pathOf(path)}`;
  let statusCode: number;
  let responseHeaders: UpstreamAnswer["headers"];
  let body: Buffer;
  try {
    const response = await upstream.pool.request({ method: "GET", path, headers, ...timeouts });
    statusCode = response.statusCode;
    responseHeaders = response.headers;
    body = Buffer.from(await response.body.arrayBuffer());
  } catch (error) {
    if (isTimeout(error)) {
      // Unanswered, not unreachable: whether contact was lost is as it was.
      throw new UpstreamTimeout(
        `upstream ${upstream.origin} did not answer ${what} in time (${describeError(error)})`,
      );
    }
    upstream.reached(false);
    throw new UpstreamUnavailable(
      `cannot reach upstream ${upstream.origin}: ${what}: ${describeError(error)}`,
    );
  }
  upstream.reached(true);
  return {
    statusCode,
    headers: responseHeaders,
    body,
    json<T>(): T {
      try {
        return JSON.parse(body.toString("utf8")) as T;
      } catch {
        throw new UpstreamUnavailable(`upstream ${upstream.origin} ${what} did not answer JSON`);
      }
    },
  };
}

/** Whether undici gave up waiting for an answer (a per-request timeout). */
function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}
