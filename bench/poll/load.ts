import type { OpencodeServer } from "../../fixtures/opencode.js";
import {
  abort,
  createSession,
  promptAsync,
  sessionCount,
  sessionStatus,
} from "../../fixtures/opencode-rest.js";
import type { Relay } from "../../fixtures/relay.js";
import { sleep } from "../common/clock.js";
import { CpuMeter, type ShimProcess, startShim } from "../common/process.js";
import { openSseReader, type SseReader } from "../common/sse-reader.js";

export interface Load {
  sessions: number;
  busy: number;
  logSource: boolean;
  requestsPerSecond: number;
  shimCpu: number;
}

export interface LoadOptions {
  /** Idle sessions in the instance, one measurement each, in increasing order. */
  idleSizes: number[];
  busyCounts: number[];
  windowSeconds: number;
}

/**
 * A poll-mode shim in front of the relay, one client on the instance, and whatever the
 * scene holds meanwhile; counts the requests the shim makes to upstream over the window.
 */
async function measure(
  opencode: OpencodeServer,
  relay: Relay,
  logSource: boolean,
  windowSeconds: number,
  during: (client: SseReader) => Promise<{ sessions: number; busy: number; end(): Promise<void> }>,
): Promise<Load> {
  const flags = ["--source", "poll", ...(logSource ? ["--log-dir", opencode.logDir] : [])];
  let shim: ShimProcess | undefined;
  let client: SseReader | undefined;
  try {
    shim = await startShim(relay.url, flags);
    client = await openSseReader(`${shim.url}/event?directory=${encodeURIComponent(opencode.otherDir)}`);
    await client.waitFor((event) => event.type === "server.connected", 30_000, "server.connected");
    const scene = await during(client);
    try {
      const cpu = new CpuMeter([shim.pid]);
      const before = relay.requests.length;
      cpu.start();
      await sleep(windowSeconds * 1000);
      return {
        sessions: scene.sessions,
        busy: scene.busy,
        logSource,
        requestsPerSecond: (relay.requests.length - before) / windowSeconds,
        shimCpu: cpu.stop().share,
      };
    } finally {
      await scene.end();
    }
  } finally {
    client?.close();
    await shim?.stop();
  }
}

/** Turns that outlast any window: they are aborted at its end. */
const LONG_TURN = "[chunks:5000][delay:20] keep streaming";

async function untilIdle(base: string, directory: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (Object.keys(await sessionStatus(base, { directory })).length === 0) return;
    await sleep(100);
  }
}

/**
 * Upstream requests a second in poll mode, in opencode's second project: with 1 / 100 /
 * 1,000 idle sessions, then with some sessions busy streaming a reply beside them.
 */
export async function pollLoad(
  opencode: OpencodeServer,
  relay: Relay,
  options: LoadOptions,
): Promise<Load[]> {
  const base = opencode.url;
  const directory = opencode.otherDir;
  const loads: Load[] = [];
  for (const size of options.idleSizes) {
    const present = await sessionCount(base, { directory });
    for (let i = present; i < size; i++) await createSession(base, { directory });
    loads.push(
      await measure(opencode, relay, false, options.windowSeconds, async () => ({
        sessions: await sessionCount(base, { directory }),
        busy: 0,
        end: async () => {},
      })),
    );
  }
  for (const busy of options.busyCounts) {
    for (const logSource of [false, true]) {
      loads.push(
        await measure(opencode, relay, logSource, options.windowSeconds, async (client) => {
          const created = await Promise.all(
            Array.from({ length: busy }, () => createSession(base, { directory })),
          );
          const sessions = created.map((session) => session.id);
          await Promise.all(sessions.map((id) => promptAsync(base, id, LONG_TURN, { directory })));
          await Promise.all(
            sessions.map((id) =>
              client.waitFor(
                (event) => event.type === "session.status" && event.properties.sessionID === id,
                30_000,
                "session.status busy",
              ),
            ),
          );
          return {
            sessions: await sessionCount(base, { directory }),
            busy,
            end: async () => {
              await Promise.all(sessions.map((id) => abort(base, id, { directory })));
              await untilIdle(base, directory);
            },
          };
        }),
      );
    }
  }
  return loads;
}
