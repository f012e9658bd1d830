import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { e2eSetup } from "../helpers/e2e.js";
import { type ShimProcess, startShimProcess } from "../helpers/shim-process.js";
import { eventually } from "../helpers/wait.js";

/** For the long run: SOAK_SECONDS=600 SOAK_CLIENTS=200 npx vitest run test/e2e/soak.test.ts */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 40);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 200);

/** A client that keeps counts only (200 clients keeping every event would measure the test, not the shim). */
class CountingClient {
  events = 0;
  idles = 0;
  lastSeq = 0;
  outOfOrder = 0;
  ended = false;
  private close: () => void = () => {};

  static connect(url: string): Promise<CountingClient> {
    const client = new CountingClient();
    return new Promise((resolve, reject) => {
      const parser = createParser({
        onEvent: (message) => {
          const type = (JSON.parse(message.data) as { type: string }).type;
          if (type === "server.connected") resolve(client);
          if (type.startsWith("server.")) return;
          client.events++;
          if (type === "session.idle") client.idles++;
          const seq = Number(message.id?.split("-")[1]);
          if (!(seq > client.lastSeq)) client.outOfOrder++;
          client.lastSeq = seq;
        },
      });
      const request = httpRequest(url, { headers: { accept: "text/event-stream" } }, (response) => {
        response.setEncoding("utf8");
        response.on("data", (text: string) => parser.feed(text));
        response.on("close", () => {
          client.ended = true;
        });
      });
      client.close = () => request.destroy();
      request.on("error", reject);
      request.end();
    });
  }

  stop(): void {
    this.close();
  }
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

describe(`soak: ${CLIENTS} clients through ${SECONDS} s of prompts`, () => {
  const e2e = e2eSetup({ version: "1.14.48" });
  let shim: ShimProcess;
  let url: string;
  const clients: CountingClient[] = [];

  beforeAll(async () => {
    // The shim as users run it, in a process of its own, so its memory is its own.
    shim = await startShimProcess(["--upstream", e2e.opencode.url, "--port", "0", "--log-level", "warn"]);
    url = shim.url;
  });

  afterAll(async () => {
    for (const client of clients) client.stop();
    await shim?.stop();
  });

  it(
    "keeps every client whole and the shim's memory flat",
    async () => {
      for (let i = 0; i < CLIENTS; i++) clients.push(await CountingClient.connect(`${url}/event`));
      const pid = shim.child.pid as number;
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(rssOf(pid)), 500);
      let prompts = 0;
      try {
        const deadline = Date.now() + SECONDS * 1000;
        while (Date.now() < deadline) {
          const session = await createSession(url);
          await prompt(url, session.id, "[chunks:40] [delay:2] soak");
          prompts++;
          await eventually(
            () => clients.every((client) => client.idles >= prompts),
            30_000,
            `session.idle #${prompts}`,
          );
        }
      } finally {
        clearInterval(sampler);
      }

      // Every client saw the very same stream: nothing lost, nothing doubled, in order
      // (once the last prompt's trailing events, which follow its session.idle, are in).
      await eventually(
        () => new Set(clients.map((client) => client.events)).size === 1,
        10_000,
        "equal counts",
      );
      expect(
        clients.every((client) => client.idles === prompts && client.outOfOrder === 0 && !client.ended),
      ).toBe(true);
      expect(prompts).toBeGreaterThan(3);

      // Memory: the last quarter of the run against the second (the first is warm-up).
      const quarter = Math.floor(samples.length / 4);
      const early = median(samples.slice(quarter, 2 * quarter));
      const late = median(samples.slice(3 * quarter));
      const growthMiB = (late - early) / 1024 / 1024;
      process.stdout.write(
        `soak: ${prompts} prompts, ${clients[0]?.events} events to each of ${CLIENTS} clients; RSS ${(early / 2 ** 20).toFixed(1)} → ${(late / 2 ** 20).toFixed(1)} MiB\n`,
      );
      expect(growthMiB).toBeLessThan(25);
    },
    (SECONDS + 120) * 1000,
  );
});
