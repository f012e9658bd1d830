import type { IncomingHttpHeaders } from "node:http";

/**
 * The origins opencode lets call it from a browser — no Origin (not a browser), any
 * port on localhost or 127.0.0.1 — plus the shim's own `--cors` list. The shim's own
 * routes answer cross-origin requests the same way.
 */
export function allowedOrigin(origin: string | undefined, extra: readonly string[]): boolean {
  if (!origin) return true;
  if (origin.startsWith("http://localhost:") || origin.startsWith("http://127.0.0.1:")) return true;
  return extra.includes(origin);
}

/** The methods opencode's preflight answer names (measured on 1.14.48). */
const ALLOWED_METHODS = "GET, HEAD, PUT, PATCH, POST, DELETE";

/**
 * CORS headers for one of the shim's event streams (or its refusal): upstream's own,
 * copied from its answer, win; when upstream allowed nothing, an origin the shim
 * allows (`--cors`) is echoed as opencode echoes the origins it allows.
 */
export function streamCorsHeaders(
  origin: string | undefined,
  extra: readonly string[],
  fromUpstream: Record<string, string | string[]> = {},
): Record<string, string | string[]> {
  if (fromUpstream["access-control-allow-origin"] !== undefined) return fromUpstream;
  if (!origin || !allowedOrigin(origin, extra)) return fromUpstream;
  return { ...fromUpstream, "access-control-allow-origin": origin, vary: "Origin" };
}

/** A CORS preflight (OPTIONS with Access-Control-Request-Method) from an origin the shim allows. */
export function isAllowedPreflight(
  method: string,
  headers: IncomingHttpHeaders,
  extra: readonly string[],
): boolean {
  const origin = headers.origin;
  return (
    method === "OPTIONS" &&
    typeof origin === "string" &&
    headers["access-control-request-method"] !== undefined &&
    allowedOrigin(origin, extra)
  );
}

/** The 204 answer's headers for a preflight `isAllowedPreflight` accepted, shaped like opencode's. */
export function preflightHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const answer: Record<string, string> = {
    "access-control-allow-origin": String(headers.origin),
    "access-control-allow-methods": ALLOWED_METHODS,
    "access-control-max-age": "86400",
    vary: "Access-Control-Request-Headers, Origin",
  };
  const requested = headers["access-control-request-headers"];
  if (typeof requested === "string" && requested !== "") answer["access-control-allow-headers"] = requested;
  return answer;
}
