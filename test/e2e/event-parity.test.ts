import { describe, expect, it } from "vitest";
import { replyText } from "../../fixtures/model-server.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { scrape } from "../../fixtures/shim-metrics.js";
import type { ReceivedEvent, SseClient } from "../../fixtures/sse-client.js";
import { e2eSetup } from "../helpers/e2e.js";
import { assistantText, props, sessionEvents } from "../helpers/session-events.js";

/**
 * The promise of the project: a client of the shim's /event in front of the broken
 * 1.14.48 sees what a client of 1.14.41's own, working /event sees.
 */
describe("/event: opencode 1.14.48 through the shim vs 1.14.41 direct", () => {
  /** opencode: the broken 1.14.48, behind the shim; reference: the working 1.14.41. */
  const e2e = e2eSetup({ version: "1.14.48", reference: "1.14.41", shim: true });

  const untilIdle = (client: SseClient, sessionID: string) =>
    client.waitFor(
      (event) => event.json.type === "session.idle" && props(event).sessionID === sessionID,
      60_000,
      "session.idle",
    );

  /** The event types of a session up to its session.idle, in order of first appearance. */
  function typesUntilIdle(events: ReceivedEvent[]): string[] {
    const idle = events.findIndex((event) => event.json.type === "session.idle");
    return [...new Set(events.slice(0, idle + 1).map((event) => event.json.type))];
  }

  it("reproduces the bug: 1.14.48's own /event says server.connected and then nothing", async () => {
    const direct = await e2e.follow(`${e2e.opencode.url}/event`);
    const viaShim = await e2e.follow(`${e2e.shim.url}/event`);
    const session = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, session.id, "say hello");
    await untilIdle(viaShim, session.id);
    expect(direct.types().filter((type) => type !== "server.heartbeat")).toEqual(["server.connected"]);
  });

  it("gives a prompt's client the same events as 1.14.41's own /event", async () => {
    const text = "say hello";
    const ref = await e2e.follow(`${e2e.reference.url}/event`);
    const viaShim = await e2e.follow(`${e2e.shim.url}/event`);
    const otherViaShim = await e2e.follow(
      `${e2e.shim.url}/event?directory=${encodeURIComponent(e2e.opencode.otherDir)}`,
    );

    const [refSession, shimSession, otherSession] = await Promise.all([
      createSession(e2e.reference.url),
      createSession(e2e.shim.url),
      createSession(e2e.shim.url, { directory: e2e.opencode.otherDir }),
    ]);
    await Promise.all([
      prompt(e2e.reference.url, refSession.id, text),
      prompt(e2e.shim.url, shimSession.id, text),
      prompt(e2e.shim.url, otherSession.id, "[chunks:5] elsewhere", { directory: e2e.opencode.otherDir }),
    ]);
    await Promise.all([
      untilIdle(ref, refSession.id),
      untilIdle(viaShim, shimSession.id),
      untilIdle(otherViaShim, otherSession.id),
    ]);

    const expected = sessionEvents(ref.events, refSession.id);
    const got = sessionEvents(viaShim.events, shimSession.id);

    // The same kinds of event; 1.14.48 adds only its new session.next.* events.
    const refTypes = typesUntilIdle(expected);
    const shimTypes = typesUntilIdle(got);
    expect(shimTypes).toEqual(expect.arrayContaining(refTypes));
    expect(shimTypes.filter((type) => !refTypes.includes(type) && !type.startsWith("session.next."))).toEqual(
      [],
    );
    for (const type of [
      "session.created",
      "session.updated",
      "message.updated",
      "message.part.updated",
      "message.part.delta",
      "session.status",
      "session.idle",
    ]) {
      expect(refTypes, `1.14.41 sends ${type}`).toContain(type);
      expect(shimTypes, `the shim sends ${type}`).toContain(type);
    }

    for (const events of [expected, got]) {
      const roles = events.filter((e) => e.json.type === "message.updated").map((e) => props(e).info?.role);
      expect(new Set(roles)).toEqual(new Set(["user", "assistant"]));
      const statuses = events
        .filter((e) => e.json.type === "session.status")
        .map((e) => props(e).status?.type);
      expect(statuses[0]).toBe("busy");
      expect(statuses.at(-1)).toBe("idle");
      const types = events.map((e) => e.json.type);
      expect(types.indexOf("session.created")).toBe(0);
      expect(types.lastIndexOf("message.part.updated")).toBeLessThan(types.indexOf("session.idle"));
      // What a UI shows: the final part text, and the deltas joined, are the model's reply.
      expect(assistantText(events)).toEqual({ final: replyText(text), deltas: replyText(text) });
    }

    // Nothing twice; ids to resume from on every event but server.*.
    const ids = viaShim.events.map((event) => event.json.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cursors = viaShim.events
      .filter((event) => !event.json.type.startsWith("server."))
      .map((event) => event.id);
    expect(cursors.every((cursor) => typeof cursor === "string")).toBe(true);
    expect(new Set(cursors).size).toBe(cursors.length);

    // Nothing of another directory: each client sees its own instance's sessions only.
    expect(sessionEvents(viaShim.events, otherSession.id)).toEqual([]);
    expect(sessionEvents(otherViaShim.events, shimSession.id)).toEqual([]);
    expect(assistantText(sessionEvents(otherViaShim.events, otherSession.id)).final).toBe(
      replyText("[chunks:5]"),
    );
    // Behind upstream's working stream, the reconciler finds nothing to correct.
    await viaShim.waitUntil(
      () => {
        const mine = sessionEvents(viaShim.events, shimSession.id);
        return mine
          .slice(mine.findIndex((event) => event.json.type === "session.idle"))
          .some((event) => event.json.type === "session.diff");
      },
      10_000,
      "the session.diff after session.idle",
    );
    // REST read whole, twice: behind an honest stream there is nothing to correct, nothing to distrust.
    await e2e.shim.sources?.reconciler.catchUp();
    await e2e.shim.sources?.reconciler.catchUp();
    expect(await scrape(e2e.shim.url)).not.toMatch(/^opencode_shim_reconciler_corrections_total\{/m);
    expect(e2e.shim.sources?.health).toEqual({ status: "ok" });

    const foreignDirectories = viaShim.events
      .map((event) => (props(event).info as { directory?: string } | undefined)?.directory)
      .filter((directory) => directory !== undefined && directory !== e2e.opencode.projectDir);
    expect(foreignDirectories).toEqual([]);
  });

  it("resumes a client that reconnects mid-prompt with Last-Event-ID, without gaps or repeats", async () => {
    const steady = await e2e.follow(`${e2e.shim.url}/event`);
    const flaky = await e2e.follow(`${e2e.shim.url}/event`);
    const session = await createSession(e2e.shim.url);
    const done = prompt(e2e.shim.url, session.id, "[chunks:60] [delay:15] a longer reply");
    await flaky.waitUntil(
      () => flaky.events.filter((event) => event.json.type === "message.part.delta").length >= 10,
      60_000,
      "10 deltas",
    );
    flaky.close();
    await flaky.ended;
    const cursor = flaky.lastEventId ?? "";
    const back = await e2e.open(`${e2e.shim.url}/event`, { "last-event-id": cursor });
    await done;
    await Promise.all([untilIdle(steady, session.id), untilIdle(back, session.id)]);

    const untilIdleIds = (events: ReceivedEvent[]) => {
      const mine = sessionEvents(events, session.id);
      const idle = mine.findIndex((event) => event.json.type === "session.idle");
      return mine.slice(0, idle + 1).map((event) => event.json.id);
    };
    const afterCut = sessionEvents(back.events, session.id);
    expect(afterCut.length).toBeGreaterThan(0);
    expect(untilIdleIds([...flaky.events, ...back.events])).toEqual(untilIdleIds(steady.events));
    expect(assistantText(sessionEvents([...flaky.events, ...back.events], session.id)).deltas).toBe(
      replyText("[chunks:60]"),
    );
  });
});
