import { request as httpRequest, type IncomingMessage, type Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { FastifyBaseLogger } from "fastify";
import { describeError } from "../errors.js";
import { CHALLENGE, letIn, readAsOpencode } from "../opencode/credentials.js";
import type { Upstream } from "../upstream/upstream.js";

export interface TunnelOptions {
  upstream: Upstream;
  log: FastifyBaseLogger;
}

/** An answer's head as bytes: its status line and the headers as upstream sent them. */
function headOf(answer: IncomingMessage, skip: ReadonlySet<string> = new Set()): string {
  let head = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
  const raw = answer.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2)
    if (!skip.has(raw[i]?.toLowerCase() ?? "")) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return head;
}

/** Headers a refusal cannot keep as sent: its body is written whole, and the connection ends. */
const FRAMING = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/** Upstream's refusal of the handshake (401, 403, 404…), passed on whole, then the connection closed. */
function passRefusal(answer: IncomingMessage, client: Duplex): void {
  const chunks: Buffer[] = [];
  answer.on("data", (chunk: Buffer) => chunks.push(chunk));
  answer.on("end", () => {
    const body = Buffer.concat(chunks);
    client.end(
      Buffer.concat([
        Buffer.from(`${headOf(answer, FRAMING)}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
        body,
      ]),
    );
  });
}

/** What the shim says when upstream cannot be reached: nothing of upstream to a caller opencode would not let in. */
function unreachable(request: IncomingMessage, client: Duplex, options: TunnelOptions, error: unknown): void {
  if (!letIn(request, options.upstream.guard)) {
    client.end(
      `HTTP/1.1 401 Unauthorized\r\nwww-authenticate: ${CHALLENGE}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    return;
  }
  const body = JSON.stringify({
    error: "upstream_unavailable",
    message: `upstream request failed: ${describeError(error)}`,
  });
  client.end(
    `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Another upgrade (`curl --http2` asks for `h2c` on every plain request) is a plain request
 * to the shim, as to opencode, which does not switch: answered by the app, then closed.
 */
function answerAsPlainRequest(server: Server, request: IncomingMessage, client: Duplex): void {
  // Handed over by the server, the socket has lost its listeners: a client gone must not throw.
  client.on("error", () => client.destroy());
  const response = new ServerResponse(request);
  response.assignSocket(client as Socket);
  response.shouldKeepAlive = false;
  response.on("finish", () => client.end());
  server.emit("request", request, response);
}

/**
 * WebSocket upgrades (opencode's `/pty/{id}/connect`) pass through as bytes: the handshake
 * goes to upstream as the client sent it (the last of a repeated `Authorization` or `Host`,
 * as opencode reads them), and upstream answers it — 101, and then the two sockets are
 * joined; or its own refusal (401 without credentials, 403 for a spent ticket, 404 for a PTY
 * that is not there), passed on as it is. So a ticketed terminal opens through the shim as it
 * opens direct, and nothing is accepted that upstream refuses. Returns a function that cuts
 * every open tunnel (the shim's close).
 */
export function tunnelUpgrades(server: Server, options: TunnelOptions): () => void {
  const open = new Set<Duplex>();
  const { hostname, port } = new URL(options.upstream.origin);
  server.on("upgrade", (request: IncomingMessage, client: Duplex, head: Buffer) => {
    if (request.headers.upgrade?.toLowerCase() !== "websocket") {
      answerAsPlainRequest(server, request, client);
      return;
    }
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    readAsOpencode(request.headers, request.rawHeaders);
    const ask = httpRequest({
      hostname,
      port,
      method: request.method,
      path: request.url,
      headers: request.headers,
      agent: false,
    });
    client.on("close", () => ask.destroy());
    ask.on("upgrade", (answer: IncomingMessage, toUpstream: Duplex, upstreamHead: Buffer) => {
      open.add(toUpstream);
      toUpstream.on("close", () => {
        open.delete(toUpstream);
        client.destroy();
      });
      toUpstream.on("error", () => toUpstream.destroy());
      client.on("close", () => toUpstream.destroy());
      client.write(`${headOf(answer)}\r\n`);
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) toUpstream.write(head);
      toUpstream.pipe(client);
      client.pipe(toUpstream);
    });
    ask.on("response", (answer: IncomingMessage) => passRefusal(answer, client));
    ask.on("error", (error) => {
      options.log.warn({ reason: describeError(error) }, "a WebSocket could not reach upstream");
      unreachable(request, client, options, error);
    });
    ask.end();
  });
  return () => {
    for (const socket of open) socket.destroy();
  };
}
