import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";

/** The routes the shim answers itself instead of upstream, in opencode's spelling. */
const REBUILT_ROUTES = new Set(["/event", "/global/event"]);

/** opencode's (Bun's) refusal of a target that is no path, byte for byte: then it closes. */
const BARE_BAD_REQUEST = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

/** The path as opencode's router matches it: percent-decoded, case-insensitive, `//` as `/`, no trailing `/`. */
function routeKey(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {}
  const key = decoded.toLowerCase().replace(/\/{2,}/g, "/");
  return key.length > 1 && key.endsWith("/") ? key.slice(0, -1) : key;
}

/**
 * Fastify's `rewriteUrl`: the target as opencode routes it. An absolute-form target (as sent
 * to a forward proxy) is routed by its path and query — the shim connects to upstream
 * only, whatever host it names; `//` is `/`; a spelling opencode's router takes for `/event` or
 * `/global/event` (`/EVENT`, `//event`, `/event/`) reaches the shim's rebuilt stream, not
 * upstream's broken one.
 */
export function targetAsOpencodeRoutes(request: IncomingMessage): string {
  let target = request.url ?? "/";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      const absolute = new URL(target);
      target = `${absolute.pathname}${absolute.search}`;
    } catch {
      return target;
    }
  }
  const queryAt = target.indexOf("?");
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? "" : target.slice(queryAt);
  const key = routeKey(path);
  if (REBUILT_ROUTES.has(key)) return `${key}${query}`;
  // opencode's router reads `//` as `/`; passed on as it came, `//x` would name a host.
  return path.includes("//") ? `${path.replace(/\/{2,}/g, "/")}${query}` : target;
}

/** An `onRequest` hook: `*` (`OPTIONS *`, `GET *`) gets opencode's bare 400, before credentials are asked for. */
export function refuseAsteriskTarget(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (request.raw.url !== "*") {
    done();
    return;
  }
  reply.hijack();
  request.raw.socket.end(BARE_BAD_REQUEST);
}

/**
 * Node's `clientError`, for a request that never became one: as opencode answers — nothing
 * at all to a client whose headers did not come in time, the bare 400 to one that sent no
 * HTTP (431 to headers too large) — then the connection is closed.
 */
export function answerClientErrorAsOpencode(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable && error.code !== "ERR_HTTP_REQUEST_TIMEOUT")
    socket.write(
      error.code === "HPE_HEADER_OVERFLOW"
        ? "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
        : BARE_BAD_REQUEST,
    );
  socket.destroy();
}

/**
 * `Expect` answered as opencode answers it: `100 Continue` at once for `100-continue` (the
 * answer follows, a refusal without waiting for the body); 417 with an empty body for
 * anything else — any other case of it too, as opencode's exact match makes it (Node's own
 * match ignores case).
 */
export function continueAsOpencode(server: Server): void {
  const expectationFailed = (response: ServerResponse) =>
    response.writeHead(417, { "content-length": 0 }).end();
  server.on("checkExpectation", (_request: IncomingMessage, response: ServerResponse) =>
    expectationFailed(response),
  );
  server.on("checkContinue", (request: IncomingMessage, response: ServerResponse) => {
    if (request.headers.expect !== "100-continue") {
      expectationFailed(response);
      return;
    }
    response.writeContinue();
    server.emit("request", request, response);
  });
}
