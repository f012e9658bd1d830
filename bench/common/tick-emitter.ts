import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { nowUs } from "./clock.js";
import { pace } from "./pace.js";

/**
 * A minimal opencode for the fan-out benchmark, run in its own process (see
 * tick-emitter-process.ts) so that the clients' work cannot delay its clock: the three
 * routes the shim needs (`/global/health`, `/path`, `/global/event`), and
 * `POST /emit?rate=R&count=N[&sessions=K]`, which writes the next N `bench.tick` events at
 * R a second to every `/global/event` stream, each stamped with the shared clock (µs) — and,
 * with K, about one of K sessions in turn (`GET /session/{id}` finds them) — and answers
 * when done. Events are numbered (`n`) from 0 across calls, so ids never repeat.
 *
 * Streams opened with `?first` (a benchmark's direct clients, its reference) are written
 * each batch of ticks before the others. The others take turns: in the order they opened
 * on one batch, the reverse on the next, so that of two relays in front of the emitter
 * neither always gets a tick one write (and one wake-up of a process) before the other.
 */

export const DIRECTORY = "/bench/project";

const firstStreams = new Set<ServerResponse>();
const streams: ServerResponse[] = [];
let batches = 0;
let next = 0;

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

function openGlobalEvent(response: ServerResponse, first: boolean): void {
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  response.write(
    `data: {"payload":{"id":"evt_bench_connected","type":"server.connected","properties":{}}}\n\n`,
  );
  if (first) {
    firstStreams.add(response);
    response.on("close", () => firstStreams.delete(response));
    return;
  }
  streams.push(response);
  response.on("close", () => {
    const index = streams.indexOf(response);
    if (index >= 0) streams.splice(index, 1);
  });
}

/** The session tick `n` is about, when ticks are spread over `sessions` sessions. */
function sessionOf(n: number, sessions: number): string {
  return `ses_bench${n % sessions}`;
}

async function emit(url: URL, response: ServerResponse): Promise<void> {
  const rate = Number(url.searchParams.get("rate"));
  const count = Number(url.searchParams.get("count"));
  const sessions = Number(url.searchParams.get("sessions") ?? 0);
  const base = next;
  next += count;
  const elapsedMs = await pace(rate, count, (first, end) => {
    let frames = "";
    for (let n = base + first; n < base + end; n++) {
      const session = sessions > 0 ? `,"sessionID":"${sessionOf(n, sessions)}"` : "";
      frames += `data: {"directory":"${DIRECTORY}","payload":{"id":"evt_bench${n}","type":"bench.tick","properties":{"n":${n},"t":${nowUs()}${session}}}}\n\n`;
    }
    for (const stream of firstStreams) stream.write(frames);
    const forward = batches++ % 2 === 0;
    for (let i = 0; i < streams.length; i++)
      (streams[forward ? i : streams.length - 1 - i] as ServerResponse).write(frames);
  });
  json(response, 200, { elapsedMs });
}

function route(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? "/", "http://emitter");
  // A session the shim looks up for a client that follows it (`/event?session=`).
  const session = /^\/session\/(ses_bench\d+)$/.exec(url.pathname)?.[1];
  if (request.method === "GET" && session) {
    json(response, 200, { id: session, directory: DIRECTORY, time: { created: 0, updated: 0 } });
    return;
  }
  switch (`${request.method} ${url.pathname}`) {
    case "GET /global/health":
      json(response, 200, { healthy: true, version: "bench" });
      break;
    case "GET /path":
      json(response, 200, {
        home: "/bench",
        state: "/bench/state",
        config: "/bench/config",
        worktree: DIRECTORY,
        directory: DIRECTORY,
      });
      break;
    case "GET /global/event":
      openGlobalEvent(response, url.searchParams.has("first"));
      break;
    case "POST /emit":
      request.resume();
      void emit(url, response);
      break;
    default:
      json(response, 404, { error: "not found" });
  }
}

const server = createServer(route);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
