import { setTimeout as sleep } from "node:timers/promises";
import { describeError, UpstreamError } from "./errors.js";
import type { Upstream } from "./upstream.js";

export interface UpstreamHealth {
  version: string | undefined;
}

/** One `GET /global/health` with the shim's own credentials. */
export async function checkHealth(upstream: Upstream, timeoutMs = 5000): Promise<UpstreamHealth> {
  let response: Awaited<ReturnType<Upstream["pool"]["request"]>>;
  try {
    response = await upstream.pool.request({
      method: "GET",
      path: "/global/health",
      headers: upstream.ownHeaders({ accept: "application/json" }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new UpstreamError(`cannot reach upstream ${upstream.origin}: ${describeError(error)}`);
  }
  const text = await response.body.text();
  if (response.statusCode === 401) {
    throw new UpstreamError(
      upstream.authorization
        ? `upstream ${upstream.origin} rejected the credentials in OPENCODE_SERVER_USERNAME/OPENCODE_SERVER_PASSWORD`
        : `upstream ${upstream.origin} requires a password: set OPENCODE_SERVER_PASSWORD (and OPENCODE_SERVER_USERNAME if it is not "opencode")`,
      401,
    );
  }
  if (response.statusCode !== 200) {
    throw new UpstreamError(`upstream ${upstream.origin} /global/health answered ${response.statusCode}`);
  }
  try {
    const body = JSON.parse(text) as { version?: unknown };
    return { version: typeof body.version === "string" ? body.version : undefined };
  } catch {
    throw new UpstreamError(
      `upstream ${upstream.origin} is not an opencode server (/global/health is not JSON)`,
    );
  }
}

/**
 * Waits until upstream answers healthy — a sidecar may well start before the server it
 * fronts. A refusal of the shim's credentials is final; anything else is retried until
 * `timeoutMs` has passed.
 */
export async function waitForUpstream(upstream: Upstream, timeoutMs: number): Promise<UpstreamHealth> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await checkHealth(upstream);
    } catch (error) {
      if (error instanceof UpstreamError && error.statusCode === 401) throw error;
      lastError = error;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(200, left));
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new UpstreamError(`upstream did not become ready within ${formatSeconds(timeoutMs)}: ${reason}`);
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
