import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  MessageWithParts,
  PendingRequest,
  SessionInfo,
  SessionStatus,
} from "../../src/opencode/state.js";

/**
 * opencode's REST reads of one instance, as the reconciler makes them, from state a test
 * sets: sessions, their statuses and messages, pending permissions. Everything else is empty. It records each
 * request with when it came.
 */
export interface RestUpstream {
  url: URL;
  sessions: SessionInfo[];
  statuses: Record<string, SessionStatus>;
  messages: Map<string, MessageWithParts[]>;
  /** The permissions pending (`GET /permission`). */
  permissions: PendingRequest[];
  /** Each request: its path, its `limit` (0 when none) and when it came. */
  requests: Array<{ path: string; limit: number; at: number }>;
  /** Requests for the session list (each read of the instance makes one) since `from` (ms, performance.now()). */
  listReadsSince(from: number): number;
  close(): Promise<void>;
}

export async function startRestUpstream(): Promise<RestUpstream> {
  const state = {
    sessions: [] as SessionInfo[],
    statuses: {} as Record<string, SessionStatus>,
    messages: new Map<string, MessageWithParts[]>(),
    permissions: [] as PendingRequest[],
    requests: [] as Array<{ path: string; limit: number; at: number }>,
  };
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://upstream");
    state.requests.push({
      path: url.pathname,
      limit: Number(url.searchParams.get("limit") ?? 0),
      at: performance.now(),
    });
    const json = (body: unknown, status = 200) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    const path = url.pathname;
    if (path === "/session") {
      const start = Number(url.searchParams.get("start") ?? 0);
      return json(state.sessions.filter((session) => session.time.updated >= start));
    }
    if (path === "/session/status") return json(state.statuses);
    if (path === "/permission") return json(state.permissions);
    if (path === "/question") return json([]);
    if (path === "/project/current") return json({ id: "proj_rest" });
    const match = /^\/session\/([^/]+)\/(message|todo|diff)$/.exec(path);
    if (match) {
      const sessionID = decodeURIComponent(match[1] as string);
      if (!state.sessions.some((session) => session.id === sessionID)) return json({ error: "gone" }, 404);
      if (match[2] !== "message") return json([]);
      const messages = state.messages.get(sessionID) ?? [];
      const limit = Number(url.searchParams.get("limit") ?? 0);
      return json(limit > 0 ? messages.slice(-limit) : messages);
    }
    json({ error: "not here" }, 404);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(state, {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    listReadsSince(from: number) {
      return state.requests.filter((request) => request.path === "/session" && request.at >= from).length;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}
