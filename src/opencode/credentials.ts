import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** opencode's user and password (`OPENCODE_SERVER_USERNAME`, `OPENCODE_SERVER_PASSWORD`). */
export interface Credentials {
  username: string;
  password: string;
}

/** A request as opencode's middleware sees it: its target and its headers as they came. */
export interface RequestSeen {
  method?: string;
  url?: string;
  rawHeaders: readonly string[];
}

/** opencode's own challenge, word for word. */
export const CHALLENGE = 'Basic realm="Secure Area"';

const BASIC = /^Basic\s+(.+)$/i;
/** The standard alphabet, `=` only at the end: what opencode's strict decoder takes. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** What opencode serves without credentials (`GET` only): its web app's manifest and icons. */
const OPEN_ASSETS = new Set([
  "/site.webmanifest",
  "/web-app-manifest-192x192.png",
  "/web-app-manifest-512x512.png",
]);
/** A PTY's WebSocket opened with a ticket: the ticket is its credential, judged by opencode itself. */
const TICKETED_PTY = /^\/pty\/[^/]+\/connect$/;

/**
 * The last of a header's values as sent. Node keeps the first of a repeated `Authorization`
 * or `Host`; opencode (Bun) reads the last, so the shim reads them as opencode does.
 */
export function lastHeader(rawHeaders: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i]?.toLowerCase() === name) value = rawHeaders[i + 1];
  return value;
}

/**
 * A repeated `Authorization` or `Host` made to count as opencode counts it: the last one.
 * One pass over the headers, every request: only names of those lengths are compared.
 */
export function readAsOpencode(headers: IncomingHttpHeaders, rawHeaders: readonly string[]): void {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? "";
    if (name.length !== 4 && name.length !== 13) continue;
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "authorization") headers[lower] = rawHeaders[i + 1];
  }
}

/** The target as opencode parses it: relative to `http://localhost`, dot segments resolved. */
function targetOf(url: string | undefined): URL | undefined {
  try {
    return new URL(url ?? "/", "http://localhost");
  } catch {
    return undefined;
  }
}

/** A base64 `user:password` token decoded as strictly as opencode decodes it, or nothing. */
function decodeToken(token: string): Credentials | undefined {
  const clean = token.replace(/[\r\n]/g, "");
  if (clean.length % 4 !== 0 || !BASE64.test(clean)) return undefined;
  const parts = Buffer.from(clean, "base64").toString("utf8").split(":");
  if (parts.length !== 2) return undefined;
  return { username: parts[0] ?? "", password: parts[1] ?? "" };
}

/**
 * The credentials a request carries, read as opencode reads them: a non-empty `auth_token`
 * query parameter (the first) wins and the header is then not looked at; else the last
 * `Authorization: Basic …` header. Measured on 1.14.48 and 1.15.0 (docs/opencode-answers.md).
 */
export function credentialsOf(request: RequestSeen): Credentials | undefined {
  const token = targetOf(request.url)?.searchParams.get("auth_token");
  if (token) return decodeToken(token);
  const basic = BASIC.exec(lastHeader(request.rawHeaders, "authorization") ?? "");
  return basic?.[1] ? decodeToken(basic[1]) : undefined;
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether opencode would let the request in: no password set, the right credentials, or a request it never asks them of. */
export function letIn(request: RequestSeen, expected: Credentials | undefined): boolean {
  if (!expected || needsNoCredentials(request)) return true;
  const given = credentialsOf(request);
  return (
    given !== undefined && same(given.username, expected.username) && same(given.password, expected.password)
  );
}

/**
 * What opencode answers without asking for credentials: every `OPTIONS` (its CORS layer
 * answers first), `GET` of its web app's manifest and icons, and a PTY's WebSocket opened
 * with a ticket.
 */
export function needsNoCredentials(request: RequestSeen): boolean {
  if (request.method === "OPTIONS") return true;
  const target = targetOf(request.url);
  if (!target) return false;
  if (request.method === "GET" && OPEN_ASSETS.has(target.pathname)) return true;
  return TICKETED_PTY.test(target.pathname) && Boolean(target.searchParams.get("ticket"));
}
