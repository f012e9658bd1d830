import { describe, expect, it } from "vitest";
import { shimPerTest } from "../helpers/shim-per-test.js";
import { eventually, sourceState } from "../helpers/wait.js";

const harness = shimPerTest();

async function health(headers: Record<string, string> = {}) {
  const response = await fetch(`${harness.shim.url}/shim/health`, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("GET /shim/health", () => {
  it("says ok, with upstream's version and the source in use (with a password, to its holders only)", async () => {
    const { upstream } = await harness.start({
      upstream: { password: "pw" },
      env: { OPENCODE_SERVER_PASSWORD: "pw" },
    });
    expect(await health()).toEqual({ status: 200, body: { status: "ok" } });
    const { status, body } = await health({
      authorization: `Basic ${Buffer.from("opencode:pw").toString("base64")}`,
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      status: "ok",
      upstream: { url: upstream.url, version: "0.0.0-fake" },
      source: { mode: "auto", feeder: "stream", stream: "live" },
      clients: 0,
    });
  });

  it("says 503 with the reason while upstream is gone", async () => {
    await harness.start({ flags: ["--source", "poll"] });
    expect((await health()).status).toBe(200);
    await harness.stopUpstream();
    await eventually(async () => (await health()).status === 503, 5000, "503");
    const { body } = await health();
    expect(body.status).toBe("unavailable");
    expect(String(body.reason)).toMatch(/cannot reach upstream .*ECONNREFUSED/);
  });

  it("says 503 while --source global has no stream", async () => {
    const { upstream, shim } = await harness.start({ flags: ["--source", "global"] });
    const global = shim.sources?.global;
    if (!global) throw new Error("no global source");
    upstream.globalEventStatus = 503;
    const down = sourceState(global, "down");
    upstream.dropGlobalStreams();
    await down;
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(String(body.reason)).toMatch(/\/global\/event is (down|connecting)/);
  });

  it("says 200 degraded with the reason while --source auto polls because the stream is down, and ok once it is back", async () => {
    const { upstream, shim } = await harness.start();
    const global = shim.sources?.global;
    if (!global) throw new Error("no global source");
    upstream.globalEventStatus = 503;
    const down = sourceState(global, "down");
    upstream.dropGlobalStreams();
    await down;
    const degraded = await health();
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({
      status: "degraded",
      source: { mode: "auto", feeder: "reconciler" },
    });
    expect(String(degraded.body.reason)).toMatch(/\/global\/event is down.*serving \/event from REST reads/);
    upstream.globalEventStatus = undefined;
    await sourceState(global, "live", 10_000);
    expect((await health()).body).toMatchObject({ status: "ok", source: { feeder: "stream" } });
  });

  it("says 200 degraded, naming the read budget, while reads of opencode wait for it", async () => {
    await harness.start({ flags: ["--source", "poll", "--read-budget", "1"] });
    const stream = await fetch(`${harness.shim.url}/event`); // an instance followed: the reconciler reads it
    try {
      await eventually(async () => (await health()).body.status === "degraded", 10_000, "degraded");
      expect(String((await health()).body.reason)).toMatch(
        /held to --read-budget \(1 a second\): \d+ deferred/,
      );
    } finally {
      await stream.body?.cancel();
    }
  });
});
