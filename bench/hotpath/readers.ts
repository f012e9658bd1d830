import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sleep } from "../common/clock.js";
import { type Summary, summarize } from "../common/stats.js";
import { openTickStream, type TickStream } from "../common/tick-stream.js";
import type { PhaseResult, ReadersSummary } from "./readers-process.js";

/**
 * The hot-path benchmark's readers, in a process of their own (started by
 * readers-process.ts) so that their work is not the benchmark's. Given
 * `--upstream URL`, it is the measuring process: two clients of the tick emitter's
 * `/global/event` (direct and control) for the whole run, and each subscriber's arrival of
 * tick n is matched with the direct client's arrival of the same n. Without it, it is a
 * load process: its subscribers are only counted (what they got, what they lost). Phase
 * by phase, its subscribers are those of one target; what it finds is pooled by target
 * label over the phases and handed out by `GET /summary`.
 *
 *   POST /phase?label=L&first=F&end=E  starts a phase: ticks F…E−1 are measured
 *   POST /subscribe?url=U&count=C      adds C subscribers of U to it
 *   POST /await?n=K                    answers once every stream has got tick K (the end of the warm-up)
 *   POST /finish                       answers once every stream has got tick E−1 (or nothing moves for 2 s), then closes the phase
 *   GET /summary                       everything pooled so far, by label (with "direct" and "control")
 */

const upstreamAt = process.argv.indexOf("--upstream");
const upstream = upstreamAt === -1 ? undefined : process.argv[upstreamAt + 1];
/** Streams opened at once: more would only queue in the target's accept backlog. */
const OPENING_BATCH = 100;

/** One stream's arrivals (µs) of the measured ticks, by n − first; NaN until it comes. */
class Track {
  last = -1;
  arrivals: Float64Array = new Float64Array(0);
  stream: TickStream | undefined;
}

interface Phase {
  label: string;
  first: number;
  end: number;
  /** Each measured tick's emit time, as the frames carry it. */
  emitted: Float64Array;
  subscribers: Track[];
}

/** What is pooled for one label over its phases. */
class Pool {
  readonly added: Float64Array[] = [];
  readonly emitToClient: Float64Array[] = [];
  deliveries = 0;
  lost = 0;
  dropped = 0;

  summary(): { deliveries: number; lost: number; dropped: number; added: Summary; emitToClient: Summary } {
    const joined = (parts: Float64Array[]) => {
      const all = new Float64Array(parts.reduce((sum, part) => sum + part.length, 0));
      let at = 0;
      for (const part of parts) {
        all.set(part, at);
        at += part.length;
      }
      return summarize(all);
    };
    return {
      deliveries: this.deliveries,
      lost: this.lost,
      dropped: this.dropped,
      added: joined(this.added),
      emitToClient: joined(this.emitToClient),
    };
  }
}

const direct = new Track();
const control = new Track();
/** direct and control, in the measuring process. */
const references: Track[] = [];
const pools = new Map<string, Pool>();
let phase: Phase | undefined;

function pool(label: string): Pool {
  const found = pools.get(label) ?? new Pool();
  pools.set(label, found);
  return found;
}

function onTickOf(track: Track) {
  return (n: number, emittedUs: number, receivedUs: number) => {
    track.last = n;
    if (!phase || n < phase.first || n >= phase.end) return;
    track.arrivals[n - phase.first] = receivedUs;
    phase.emitted[n - phase.first] = emittedUs;
  };
}

async function subscribe(track: Track, url: string): Promise<void> {
  track.stream = await openTickStream(url, onTickOf(track));
}

function measuring(size: number): Float64Array {
  return new Float64Array(size).fill(Number.NaN);
}

function begin(url: URL): void {
  const first = Number(url.searchParams.get("first"));
  const end = Number(url.searchParams.get("end"));
  for (const track of references) track.arrivals = measuring(end - first);
  phase = {
    label: url.searchParams.get("label") ?? "",
    first,
    end,
    emitted: measuring(end - first),
    subscribers: [],
  };
}

async function add(url: URL): Promise<void> {
  if (!phase) throw new Error("no phase begun");
  const { first, end, subscribers } = phase;
  const target = url.searchParams.get("url") ?? "";
  const more = Array.from({ length: Number(url.searchParams.get("count")) }, () => new Track());
  for (const track of more) track.arrivals = measuring(end - first);
  subscribers.push(...more);
  for (let opened = 0; opened < more.length; opened += OPENING_BATCH) {
    await Promise.all(more.slice(opened, opened + OPENING_BATCH).map((track) => subscribe(track, target)));
  }
}

function everyone(): Track[] {
  return [...references, ...(phase?.subscribers ?? [])];
}

/** Resolves with whether every stream got tick n, once they all have or nothing moved for `stallMs`. */
async function reach(n: number, stallMs: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  const progress = () => everyone().reduce((sum, track) => sum + track.last, 0);
  let last = progress();
  let movedAt = performance.now();
  while (!everyone().every((track) => track.last >= n)) {
    if (performance.now() > deadline || performance.now() - movedAt > stallMs) return false;
    await sleep(20);
    const now = progress();
    if (now !== last) {
      last = now;
      movedAt = performance.now();
    }
  }
  return true;
}

/** `track` against the direct client, tick by tick, into `into`. */
function compare(track: Track, emitted: Float64Array, into: Pool): void {
  const added: number[] = [];
  const emitToClient: number[] = [];
  for (let i = 0; i < track.arrivals.length; i++) {
    const at = track.arrivals[i] as number;
    if (Number.isNaN(at)) {
      into.lost++;
      continue;
    }
    into.deliveries++;
    const reference = direct.arrivals[i];
    if (reference !== undefined && !Number.isNaN(reference)) added.push(at - reference);
    emitToClient.push(at - (emitted[i] as number));
  }
  into.added.push(Float64Array.from(added));
  into.emitToClient.push(Float64Array.from(emitToClient));
}

async function finish(): Promise<PhaseResult> {
  if (!phase) throw new Error("no phase open");
  const complete = await reach(phase.end - 1, 2000, 20_000);
  const { label, subscribers, emitted } = phase;
  const into = pool(label);
  const lostBefore = into.lost;
  for (const track of subscribers) compare(track, emitted, into);
  if (references.length) {
    compare(control, emitted, pool("control"));
    compare(direct, emitted, pool("direct"));
  }
  const dropped = subscribers.filter((track) => track.stream?.ended).length;
  into.dropped += dropped;
  for (const track of subscribers) track.stream?.close();
  phase = undefined;
  return { label, complete, lost: into.lost - lostBefore, dropped };
}

function summary(): ReadersSummary {
  return Object.fromEntries([...pools].map(([label, found]) => [label, found.summary()]));
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
  request.resume();
  const url = new URL(request.url ?? "/", "http://readers");
  try {
    switch (`${request.method} ${url.pathname}`) {
      case "POST /phase":
        begin(url);
        return answer(response, 200, { begun: phase?.label });
      case "POST /subscribe":
        await add(url);
        return answer(response, 200, { subscribers: phase?.subscribers.length });
      case "POST /await": {
        const n = Number(url.searchParams.get("n"));
        if (await reach(n, 5000, 20_000)) return answer(response, 200, { reached: n });
        const behind = everyone().filter((track) => track.last < n).length;
        return answer(response, 504, { error: `${behind} streams have not got tick ${n}` });
      }
      case "POST /finish":
        return answer(response, 200, await finish());
      case "GET /summary":
        return answer(response, 200, summary());
      default:
        return answer(response, 404, { error: "not found" });
    }
  } catch (error) {
    answer(response, 500, { error: error instanceof Error ? error.message : String(error) });
  }
}

async function main(): Promise<void> {
  if (upstream !== undefined) {
    await subscribe(direct, `${upstream}/global/event?first`);
    await subscribe(control, `${upstream}/global/event?first`);
    references.push(direct, control);
  }
  const server = createServer((request, response) => void route(request, response));
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
