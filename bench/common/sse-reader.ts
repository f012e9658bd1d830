import { type ClientRequest, request as httpRequest } from "node:http";
import { createParser } from "eventsource-parser";
import { nowUs } from "./clock.js";

/** One event as the benchmarks look at it: opencode's `{id, type, properties}`, unwrapped from a global frame. */
export interface TimedEvent {
  id: string | undefined;
  /** The instance a `/global/event` frame names; undefined on `/event`. */
  directory: string | undefined;
  type: string;
  properties: Record<string, unknown>;
  /** µs (clock.ts) when the chunk holding it was read. */
  receivedUs: number;
}

export interface SseReader {
  events: TimedEvent[];
  /** Resolves with the first event (already received or to come) that `test` accepts. */
  waitFor(test: (event: TimedEvent) => boolean, timeoutMs: number, what: string): Promise<TimedEvent>;
  close(): void;
}

interface Payload {
  id?: string;
  type?: string;
  properties?: Record<string, unknown>;
}

/**
 * SSE text in, events out: a `/global/event` frame is unwrapped, and its `sync`
 * wrappers are left out (their plain twin carries the event). Each event is stamped
 * with the time of the chunk that completed it.
 */
function createEventParser(onEvent: (event: TimedEvent) => void) {
  let receivedUs = 0;
  const parser = createParser({
    onEvent: (message) => {
      const frame = JSON.parse(message.data) as Payload & { payload?: Payload; directory?: string };
      const payload = frame.payload ?? frame;
      if (!payload.type || payload.type === "sync") return;
      onEvent({
        id: payload.id,
        directory: frame.directory,
        type: payload.type,
        properties: payload.properties ?? {},
        receivedUs,
      });
    },
  });
  return {
    feed(text: string, atUs: number): void {
      receivedUs = atUs;
      parser.feed(text);
    },
  };
}

/** Reads an event stream, `/event` or `/global/event`, keeping every event with when it arrived. */
export function openSseReader(url: string): Promise<SseReader> {
  const events: TimedEvent[] = [];
  const waiters = new Set<(event: TimedEvent) => void>();
  const parser = createEventParser((event) => {
    events.push(event);
    for (const waiter of waiters) waiter(event);
  });
  return new Promise((resolve, reject) => {
    const request: ClientRequest = httpRequest(url, {
      headers: { accept: "text/event-stream" },
      agent: false,
    });
    request.on("error", reject);
    request.on("response", (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`GET ${url}: ${response.statusCode}`));
        request.destroy();
        return;
      }
      response.setEncoding("utf8");
      response.on("data", (text: string) => parser.feed(text, nowUs()));
      response.on("error", () => {});
      resolve({
        events,
        waitFor(test, timeoutMs, what) {
          const found = events.find(test);
          if (found) return Promise.resolve(found);
          return new Promise((resolveEvent, rejectEvent) => {
            const waiter = (event: TimedEvent) => {
              if (!test(event)) return;
              clearTimeout(timer);
              waiters.delete(waiter);
              resolveEvent(event);
            };
            const timer = setTimeout(() => {
              waiters.delete(waiter);
              rejectEvent(new Error(`no ${what} on ${url} within ${timeoutMs} ms`));
            }, timeoutMs);
            waiters.add(waiter);
          });
        },
        close: () => request.destroy(),
      });
    });
    request.end();
  });
}
