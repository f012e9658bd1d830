import type { OpencodeServer } from "../../fixtures/opencode.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { nowUs, sleep } from "../common/clock.js";
import { type ShimProcess, startShim } from "../common/process.js";
import { openSseReader, type SseReader, type TimedEvent } from "../common/sse-reader.js";
import { type Summary, summarize } from "../common/stats.js";

export interface Detection {
  change: string;
  intervalMs: number;
  logSource: boolean;
  /** Arrival at the shim's client − arrival of upstream's own event at a direct `/global/event` client. */
  latency: Summary;
}

type Change = (base: string, directory: string, sessionID: string) => Promise<string>;

/** A new session in an instance where nothing else happens: seen at the quiet pace. */
const newSession: Change = async (base, directory) => (await createSession(base, { directory })).id;

/** A short turn ending in a session just used: seen at the busy pace. */
const turnEnds: Change = async (base, directory, sessionID) => {
  await prompt(base, sessionID, "[chunks:3][delay:0] short", { directory });
  return sessionID;
};

const CHANGES: Array<{ name: string; change: Change; event: string }> = [
  { name: "new session (instance quiet)", change: newSession, event: "session.created" },
  { name: "turn ends (session.idle)", change: turnEnds, event: "session.idle" },
];

const sessionOf = (event: TimedEvent) =>
  event.properties.sessionID ?? (event.properties.info as { id?: string } | undefined)?.id;

async function detect(
  opencode: OpencodeServer,
  intervalMs: number,
  logSource: boolean,
  trials: number,
): Promise<Detection[]> {
  const base = opencode.url;
  const directory = opencode.otherDir;
  const flags = ["--source", "poll", "--poll-interval", String(intervalMs)];
  if (logSource) flags.push("--log-dir", opencode.logDir);
  let shim: ShimProcess | undefined;
  const readers: SseReader[] = [];
  try {
    shim = await startShim(base, flags);
    const direct = await openSseReader(`${base}/global/event`);
    readers.push(direct);
    const client = await openSseReader(`${shim.url}/event?directory=${encodeURIComponent(directory)}`);
    readers.push(client);
    await client.waitFor((event) => event.type === "server.connected", 30_000, "server.connected");
    const session = (await createSession(base, { directory })).id;
    const detections: Detection[] = [];
    for (const { name, change, event } of CHANGES) {
      const latencies: number[] = [];
      for (let trial = 0; trial < trials; trial++) {
        // Changes land at every phase of the poll cycle, not in step with it.
        await sleep(Math.random() * intervalMs);
        const changedUs = nowUs();
        const id = await change(base, directory, session);
        const seen = (at: SseReader) =>
          at.waitFor(
            (e) => e.type === event && sessionOf(e) === id && e.receivedUs >= changedUs,
            30_000,
            `${event} of ${id}`,
          );
        const [upstream, viaShim] = await Promise.all([seen(direct), seen(client)]);
        latencies.push(viaShim.receivedUs - upstream.receivedUs);
        // The next trial starts from a quiet instance.
        await sleep(100);
      }
      detections.push({ change: name, intervalMs, logSource, latency: summarize(latencies) });
    }
    return detections;
  } finally {
    for (const reader of readers) reader.close();
    await shim?.stop();
  }
}

/** Detection latency in poll mode, at each interval, with and without the log source. */
export async function pollDetection(
  opencode: OpencodeServer,
  intervals: number[],
  trials: number,
): Promise<Detection[]> {
  const detections: Detection[] = [];
  for (const intervalMs of intervals) {
    for (const logSource of [false, true])
      detections.push(...(await detect(opencode, intervalMs, logSource, trials)));
  }
  return detections;
}
