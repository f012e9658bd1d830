import { request as httpRequest } from "node:http";
import { nowUs } from "./clock.js";

export type OnTick = (n: number, emittedUs: number, receivedUs: number) => void;

export interface TickStream {
  /** Whether the stream ended or broke (a shim drops a client that falls too far behind). */
  readonly ended: boolean;
  close(): void;
}

const FRAME_END = Buffer.from("\n\n");
const N_KEY = Buffer.from('"n":');
/** What lies between n's digits and t's: `,"t":`. */
const T_KEY_LENGTH = 5;
const ZERO = 48;

/** The unsigned integer whose digits start at `at`, and where they end. */
function digits(buffer: Buffer, at: number): { value: number; end: number } {
  let value = 0;
  let end = at;
  for (let c = buffer[end] ?? 0; c >= ZERO && c <= ZERO + 9; c = buffer[++end] ?? 0)
    value = value * 10 + c - ZERO;
  return { value, end };
}

/** Hands every complete `bench.tick` frame in `buffer` to `onTick`; returns where the incomplete rest starts. */
function readFrames(buffer: Buffer, receivedUs: number, onTick: OnTick): number {
  let start = 0;
  for (let end = buffer.indexOf(FRAME_END, start); end !== -1; end = buffer.indexOf(FRAME_END, start)) {
    const key = buffer.indexOf(N_KEY, start);
    if (key !== -1 && key < end) {
      const n = digits(buffer, key + N_KEY.length);
      const t = digits(buffer, n.end + T_KEY_LENGTH);
      onTick(n.value, t.value, receivedUs);
    }
    start = end + FRAME_END.length;
  }
  return start;
}

/**
 * A lean reader of `bench.tick` events, for when a thousand streams are read at once
 * in one process: no SSE parser and no JSON, `n` and `t` are read from the bytes of
 * each frame (`…"properties":{"n":N,"t":T}…`, as tick-emitter.ts writes and the shim
 * passes on). Resolves once the response has started (the stream is subscribed).
 */
export function openTickStream(url: string, onTick: OnTick): Promise<TickStream> {
  return new Promise((resolve, reject) => {
    let ended = false;
    const request = httpRequest(url, { headers: { accept: "text/event-stream" }, agent: false });
    request.on("error", (error) => {
      ended = true;
      reject(error);
    });
    request.on("response", (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`GET ${url}: ${response.statusCode}`));
        request.destroy();
        return;
      }
      let rest: Buffer | undefined;
      response.on("data", (chunk: Buffer) => {
        const buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
        const consumed = readFrames(buffer, nowUs(), onTick);
        rest = consumed < buffer.length ? buffer.subarray(consumed) : undefined;
      });
      response.on("close", () => {
        ended = true;
      });
      response.on("error", () => {});
      resolve({
        get ended() {
          return ended;
        },
        close: () => request.destroy(),
      });
    });
    request.end();
  });
}
