import { connect as netConnect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { replyText } from "../../fixtures/model-server.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { sample, scrape } from "../../fixtures/shim-metrics.js";
import type { ReceivedEvent, SseClient } from "../../fixtures/sse-client.js";
import { e2eSetup } from "../helpers/e2e.js";
import { assistantText, props, sessionEvents } from "../helpers/session-events.js";
import { eventually, sourceState } from "../helpers/wait.js";

/**
 * The faults opencode's users meet, injected between the shim and a real opencode
 * 1.14.48 by a relay: streams cut or stalled mid-prompt, the server killed and restarted.
 */
describe("faults between the shim and opencode 1.14.48", () => {
  const e2e = e2eSetup({
    version: "1.14.48",
    relay: true,
    shim: { flags: ["--heartbeat-interval", "200"], overrides: { stallTimeoutMs: 1500 } },
  });

  afterEach(() => {
    e2e.relay.blocked.clear();
    e2e.relay.refusing = false;
  });

  function global() {
    const source = e2e.shim.sources?.global;
    if (!source) throw new Error("no global source");
    return source;
  }

  const subscribe = () => e2e.follow(`${e2e.shim.url}/event`);

  const isIdle = (sessionID: string) => (event: ReceivedEvent) =>
    event.json.type === "session.idle" && props(event).sessionID === sessionID;

  /**
   * What a client must end up with for a finished prompt: the whole answer, idle once,
   * nothing twice. Deltas join to the answer unless some were lost upstream-side for good
   * (a stream that came back mid-answer); the final part carries the answer regardless.
   */
  function expectConverged(client: SseClient, sessionID: string, text: string, deltasWhole = true) {
    const events = sessionEvents(client.events, sessionID);
    const { final, deltas } = assistantText(events);
    expect(final).toBe(replyText(text));
    if (deltasWhole) expect(deltas).toBe(replyText(text));
    const completed = events.filter(
      (event) =>
        event.json.type === "message.updated" &&
        props(event).info?.role === "assistant" &&
        (props(event).info as { time?: { completed?: number } }).time?.completed !== undefined,
    );
    expect(completed.length).toBeGreaterThan(0);
    expect(events.filter((event) => event.json.type === "session.idle")).toHaveLength(1);
    const ids = client.events.map((event) => event.json.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(client.isEnded).toBe(false);
  }

  it("keeps clients whole when the stream is cut mid-prompt and stays away", async () => {
    const client = await subscribe();
    const session = await createSession(e2e.shim.url);
    const text = "[chunks:40] [delay:40] a long answer";
    const done = prompt(e2e.shim.url, session.id, text);
    await client.waitFor((event) => event.json.type === "message.part.delta", 30_000, "the first delta");

    e2e.relay.blocked.add("/global/event");
    const down = sourceState(global(), "down");
    e2e.relay.cutStreams();
    await down;
    expect(e2e.shim.sources?.feeder).toBe("reconciler");
    const cutAt = client.events.length;
    await done; // the prompt finishes while the stream is away
    await client.waitFor(isIdle(session.id), 30_000, "session.idle");
    expect(client.events.slice(cutAt).some((event) => event.json.type === "server.heartbeat")).toBe(true);
    expectConverged(client, session.id, text);

    const beforeReturn = sessionEvents(client.events, session.id).length;
    e2e.relay.blocked.delete("/global/event");
    await sourceState(global(), "live", 15_000);
    expect(e2e.shim.sources?.feeder).toBe("stream");
    const next = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, next.id, "say hello");
    await client.waitFor(isIdle(next.id), 30_000, "the next prompt's session.idle");
    expectConverged(client, next.id, "say hello");
    // The read of REST when the stream came back repeated nothing about the first prompt
    // (opencode itself may still say something new about it, such as a generated title).
    const firstPrompt = sessionEvents(client.events, session.id);
    const content = (event: ReceivedEvent) => {
      const { time: _sent, ...rest } = (event.json.properties ?? {}) as Record<string, unknown>;
      return `${event.json.type} ${JSON.stringify(rest)}`;
    };
    const before = new Set(firstPrompt.slice(0, beforeReturn).map(content));
    for (const event of firstPrompt.slice(beforeReturn)) {
      expect(before.has(content(event)), content(event)).toBe(false);
      expect(["session.idle", "session.status", "message.part.delta"]).not.toContain(event.json.type);
    }
    expectConverged(client, session.id, text);
  });

  it("with --source global, a prompt that finished while the stream was away arrives when it is back", async () => {
    const strict = await e2e.startShim({
      flags: ["--source", "global", "--heartbeat-interval", "200"],
      overrides: { stallTimeoutMs: 1500 },
    });
    const source = strict.sources?.global;
    if (!source) throw new Error("no global source");
    const client = await e2e.open(`${strict.url}/event`);
    await client.waitFor((event) => event.json.type === "server.connected");
    const session = await createSession(strict.url);
    const text = "[chunks:30] [delay:30] while away";
    const done = prompt(strict.url, session.id, text);
    await client.waitFor((event) => event.json.type === "message.part.delta", 30_000, "the first delta");

    e2e.relay.blocked.add("/global/event");
    const down = sourceState(source, "down");
    e2e.relay.cutStreams();
    await down;
    expect(strict.sources?.feeder).toBe("stream");
    await done; // finished upstream; nothing polls meanwhile in this mode
    expect(client.events.some(isIdle(session.id))).toBe(false);

    e2e.relay.blocked.delete("/global/event");
    await client.waitFor(isIdle(session.id), 30_000, "session.idle after the stream is back");
    expectConverged(client, session.id, text, false);
  });

  it("notices a stream that stalls without closing, and replaces it", async () => {
    const client = await subscribe();
    const session = await createSession(e2e.shim.url);
    const text = "[chunks:60] [delay:50] another long answer";
    const done = prompt(e2e.shim.url, session.id, text);
    await client.waitFor((event) => event.json.type === "message.part.delta", 30_000, "the first delta");
    const stalled = e2e.relay.requests.filter((line) => line === "GET /global/event").length;
    const down = sourceState(global(), "down", 10_000);
    e2e.relay.stallStreams();
    await down;
    await sourceState(global(), "live", 15_000);
    expect(e2e.relay.requests.filter((line) => line === "GET /global/event").length).toBeGreaterThan(stalled);
    await done;
    await client.waitFor(isIdle(session.id), 30_000, "session.idle");
    expectConverged(client, session.id, text, false);
  });

  it("drops a client that never reads while thousands of deltas flow, and only that one", async () => {
    // A small limit: a socket that is not read still takes megabytes into the kernel's buffers first.
    const strict = await e2e.startShim({ flags: ["--max-client-buffer", "256KiB"] });
    const healthy = await e2e.open(`${strict.url}/event`);
    await healthy.waitFor((event) => event.json.type === "server.connected");
    const stuck = netConnect(Number(new URL(strict.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => stuck.once("connect", () => resolve()));
    stuck.write("GET /event HTTP/1.1\r\nHost: shim\r\nAccept: text/event-stream\r\n\r\n");
    stuck.pause();
    await eventually(() => strict.hub.subscriberTotal === 2, 5000, "the stuck client to subscribe");

    // How much a socket that is never read takes into the kernel first depends on the machine
    // (up to tcp_wmem's 4 MiB send side here): bursts go on until the stuck client is behind.
    // It is cut at the first write that finds it so, in the same dispatch that tells the healthy
    // client the burst's end, so the check after each end is not a race.
    let bursts = 0;
    while (strict.hub.subscriberTotal === 2) {
      expect(bursts, "bursts of 20,000 deltas before the stuck client was cut").toBeLessThan(4);
      bursts += 1;
      const session = await createSession(strict.url);
      const text = "[chunks:20000] [delay:0]";
      await prompt(strict.url, session.id, text);
      await healthy.waitFor(isIdle(session.id), 60_000, "session.idle");
      const deltas = sessionEvents(healthy.events, session.id).filter(
        (event) => event.json.type === "message.part.delta",
      );
      expect(deltas.length).toBeGreaterThan(10_000);
      expect(assistantText(sessionEvents(healthy.events, session.id))).toEqual({
        final: replyText(text),
        deltas: replyText(text),
      });
    }
    const metrics = await scrape(strict.url);
    expect(sample(metrics, "opencode_shim_dropped_clients_total")).toBe(1);
    expect(sample(metrics, "opencode_shim_subscribers")).toBe(1);
    stuck.destroy();
  });

  it("rides out opencode being killed and restarted: streams stay open, REST says 502, health says 503", async () => {
    const client = await subscribe();
    await e2e.opencode.kill("SIGKILL");
    await sourceState(global(), "down");
    const during = await fetch(`${e2e.shim.url}/session`);
    expect(during.status).toBe(502);
    expect(await during.json()).toMatchObject({ error: "upstream_unavailable" });
    const health = await fetch(`${e2e.shim.url}/shim/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "unavailable" });
    const beatsBefore = client.types().filter((type) => type === "server.heartbeat").length;
    await client.waitUntil(
      () => client.types().filter((type) => type === "server.heartbeat").length > beatsBefore,
      5000,
      "a heartbeat during the outage",
    );

    await e2e.opencode.restart();
    await eventually(
      async () => (await fetch(`${e2e.shim.url}/shim/health`)).status === 200,
      20_000,
      "healthy again",
    );
    const session = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, session.id, "say hello");
    await client.waitFor(isIdle(session.id), 30_000, "session.idle from the new process");
    // Events the new process's stream never carried are made up for from REST, a moment later.
    await client.waitUntil(
      () => assistantText(sessionEvents(client.events, session.id)).final !== "",
      15_000,
      "the answer",
    );
    expectConverged(client, session.id, "say hello", false);
    // The session is announced, once, whether its session.created came through or not (made
    // up from REST when the stream lost it, which behind a live stream takes two reads).
    const created = () =>
      sessionEvents(client.events, session.id).filter((event) => event.json.type === "session.created");
    await client.waitUntil(() => created().length > 0, 10_000, "session.created");
    const types = sessionEvents(client.events, session.id).map((event) => event.json.type);
    for (const type of ["message.updated", "message.part.updated"]) expect(types).toContain(type);
    expect(created()).toHaveLength(1);
    expect(client.types()).not.toContain("server.instance.disposed");
  });
});
