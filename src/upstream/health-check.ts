import { setTimeout as sleep } from "node:timers/promises";
import { CredentialsRefused, messageOf, UpstreamUnavailable } from "../errors.js";
import { askUpstream } from "./ask.js";
import type { Upstream } from "./upstream.js";

export interface UpstreamHealth {
  version: string | undefined;
}

/** One `GET /global/health` with the shim's own credentials. */
export async function checkHealth(upstream: Upstream, timeoutMs = 5000): Promise<UpstreamHealth> {
  const answer = await askUpstream(upstream, "/global/health", { timeoutMs });
  if (answer.statusCode === 401) {
    throw new CredentialsRefused(
      upstream.authorization
        ? `upstream ${upstream.origin} rejected the credentials in OPENCODE_SERVER_USERNAME/OPENCODE_SERVER_PASSWORD`
        : `upstream ${upstream.origin} requires a password: set OPENCODE_SERVER_PASSWORD (and OPENCODE_SERVER_USERNAME if it is not "opencode")`,
    );
  }
  if (answer.statusCode !== 200) {
    throw new UpstreamUnavailable(`upstream ${upstream.origin} /global/health answered ${answer.statusCode}`);
  }
  let version: unknown;
  try {
    version = answer.json<{ version?: unknown }>().version;
  } catch {
    throw new UpstreamUnavailable(
      `upstream ${upstream.origin} is not an opencode server (/global/health is not JSON)`,
    );
  }
  return { version: typeof version === "string" ? version : undefined };
}

/** Whether opencode asks a client without credentials for them (it has a password). */
export async function asksCredentials(upstream: Upstream): Promise<boolean> {
  return (await askUpstream(upstream, "/global/health", { asClient: {} })).statusCode === 401;
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
      if (error instanceof CredentialsRefused) throw error;
      lastError = error;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(200, left));
  }
  throw new UpstreamUnavailable(
    `upstream did not become ready within ${formatSeconds(timeoutMs)}: ${messageOf(lastError)}`,
  );
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
