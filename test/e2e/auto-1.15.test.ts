import { describe, expect, it } from "vitest";
import { replyText } from "../../fixtures/model-server.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { scrape } from "../../fixtures/shim-metrics.js";
import type { ReceivedEvent, SseClient } from "../../fixtures/sse-client.js";
import { e2eSetup } from "../helpers/e2e.js";
import { assistantText, props, sessionEvents } from "../helpers/session-events.js";

/**
 * opencode 1.15.0 is broken the other way: its /event stays open but drops every event
 * that has a sync twin (session.created, message.updated, message.part.updated). The
 * shim in its default `auto` mode gives the complete stream, nothing doubled.
 */
describe("auto mode in front of opencode 1.15.0", () => {
  const e2e = e2eSetup({ version: "1.15.0", shim: true });

  async function subscribe(url: string): Promise<SseClient> {
    const client = await e2e.open(url);
    await client.waitFor((event) => event.json.type === "server.connected");
    return client;
  }

  it("gives the complete stream of a prompt, nothing doubled", async () => {
    expect(e2e.shim.sources?.mode).toBe("auto");
    expect(e2e.shim.sources?.feeder).toBe("stream");
    const direct = await subscribe(`${e2e.opencode.url}/event`);
    const viaShim = await subscribe(`${e2e.shim.url}/event`);
    const session = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, session.id, "say hello");
    const isIdle = (event: ReceivedEvent) =>
      event.json.type === "session.idle" && props(event).sessionID === session.id;
    await Promise.all([direct.waitFor(isIdle, 30_000), viaShim.waitFor(isIdle, 30_000)]);

    const directTypes = new Set(sessionEvents(direct.events, session.id).map((event) => event.json.type));
    const events = sessionEvents(viaShim.events, session.id);
    const types = new Set(events.map((event) => event.json.type));
    // What 1.15.0's own /event leaves out, the shim has.
    for (const type of ["session.created", "message.updated", "message.part.updated"]) {
      expect(directTypes.has(type), `1.15.0's /event has ${type}`).toBe(false);
      expect(types.has(type), `the shim has ${type}`).toBe(true);
    }
    for (const type of ["message.part.delta", "session.status", "session.idle", "session.updated"]) {
      expect(types.has(type)).toBe(true);
    }
    expect(assistantText(events)).toEqual({ final: replyText("say hello"), deltas: replyText("say hello") });

    const ids = viaShim.events.map((event) => event.json.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Everything came from upstream's stream: the reconciler behind it has nothing to add,
    // read after read (once upstream's last words on the prompt are in).
    await viaShim.waitUntil(
      () => {
        const idleAt = viaShim.events.findIndex(isIdle);
        return viaShim.events.slice(idleAt).some((event) => event.json.type === "session.diff");
      },
      10_000,
      "the session.diff after session.idle",
    );
    // REST read whole, twice: behind an honest stream there is nothing to correct, nothing to distrust.
    await e2e.shim.sources?.reconciler.catchUp();
    await e2e.shim.sources?.reconciler.catchUp();
    expect(await scrape(e2e.shim.url)).not.toMatch(/^opencode_shim_reconciler_corrections_total\{/m);
    expect(e2e.shim.sources?.health).toEqual({ status: "ok" });
    // Upstream's own events, ids and all: whatever 1.15.0's /event did deliver is in the shim's stream too.
    const shimIds = new Set(events.map((event) => event.json.id));
    const directUntilIdle = sessionEvents(direct.events, session.id);
    directUntilIdle.splice(directUntilIdle.findIndex(isIdle) + 1);
    expect(directUntilIdle.filter((event) => !shimIds.has(event.json.id))).toEqual([]);
  });
});
