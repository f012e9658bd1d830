import { createServer, request as httpRequest, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createParser } from "eventsource-parser";

/**
 * The simplest honest relay, the hot-path benchmark's reference (started by
 * reference-relay-process.ts, in its own process): one connection to upstream's
 * `GET /global/event`, SSE parsed with eventsource-parser, each global frame
 * `{directory, payload}` unwrapped and its payload written at once, as
 * `data: <JSON>\n\n`, to every subscriber of that directory's `GET /event`. No batching,
 * no ring, no dedupe, no backpressure (a slow subscriber's socket buffers), no REST.
 * It carries no `id:` line: without a ring it could not resume from one.
 *
 * It times its own work as the shim does (a chunk read from upstream → its events written
 * to every subscriber, once per event written): `GET /own-time` answers the times (ms,
 * a JSON array) since the last asking, and starts afresh.
 *
 *   node --import tsx bench/hotpath/reference-relay.ts --upstream URL
 */

const upstream = new URL(process.argv[process.argv.indexOf("--upstream") + 1] ?? "");
const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
} as const;

interface Payload {
  id?: string;
  type?: string;
}

/** Subscribers by the directory they follow. */
const subscribers = new Map<string, Set<ServerResponse>>();
let connected = 0;
/** Events of the chunk being read that went to some subscriber. */
let written = 0;
/** Chunk read → its events written to every subscriber (ms), once per event written. */
let ownTimes: number[] = [];

/** The instance a request without `?directory` gets: upstream's own, as opencode's `/path` says. */
async function defaultDirectory(): Promise<string> {
  const response = await fetch(new URL("/path", upstream));
  if (!response.ok) throw new Error(`GET /path answered ${response.status}`);
  return ((await response.json()) as { directory: string }).directory;
}

function relay(data: string): void {
  const frame = JSON.parse(data) as { directory?: string; payload?: Payload };
  const payload = frame.payload;
  // The upstream stream's own greeting is not an event of any instance.
  if (!payload || payload.type === "server.connected" || frame.directory === undefined) return;
  const audience = subscribers.get(frame.directory);
  if (!audience || audience.size === 0) return;
  const text = `data: ${JSON.stringify(payload)}\n\n`;
  for (const response of audience) response.write(text);
  written++;
}

function read(text: string, parser: { feed(text: string): void }): void {
  const arrived = performance.now();
  written = 0;
  parser.feed(text);
  const events = written;
  if (events === 0) return;
  // Node's ServerResponse corks its socket on a write and uncorks it on the next tick: the
  // sockets are written to by ticks queued during the feed, which run before this one.
  process.nextTick(() => {
    const took = performance.now() - arrived;
    for (let i = 0; i < events; i++) ownTimes.push(took);
  });
}

/** The own times since the last asking. */
function takeOwnTimes(): string {
  const times = ownTimes;
  ownTimes = [];
  return JSON.stringify(times);
}

/** Follows upstream's `/global/event`; resolves once it answers, reconnects if it ends. */
function follow(): Promise<void> {
  return new Promise((resolve, reject) => {
    const parser = createParser({ onEvent: (message) => relay(message.data) });
    const request = httpRequest(new URL("/global/event", upstream), {
      headers: { accept: "text/event-stream" },
      agent: false,
    });
    request.on("error", reject);
    request.on("response", (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`GET /global/event answered ${response.statusCode}`));
        request.destroy();
        return;
      }
      response.setEncoding("utf8");
      response.on("data", (text: string) => read(text, parser));
      response.on("error", () => {});
      response.on("close", () => setTimeout(() => follow().catch(() => {}), 250));
      resolve();
    });
    request.end();
  });
}

async function main(): Promise<void> {
  const fallback = await defaultDirectory();
  await follow();
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://relay");
    if (request.method === "GET" && url.pathname === "/own-time") {
      response.writeHead(200, { "content-type": "application/json" }).end(takeOwnTimes());
      return;
    }
    if (request.method !== "GET" || url.pathname !== "/event") {
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    const directory = url.searchParams.get("directory") || fallback;
    response.writeHead(200, SSE_HEADERS);
    response.write(
      `data: {"id":"evt_relay_connected${connected++}","type":"server.connected","properties":{}}\n\n`,
    );
    const audience = subscribers.get(directory) ?? new Set();
    subscribers.set(directory, audience);
    audience.add(response);
    response.on("close", () => audience.delete(response));
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
