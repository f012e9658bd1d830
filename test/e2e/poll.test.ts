import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { replyText, SAMPLE_QUESTION, toolPrompt } from "../../fixtures/model-server.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { type Relay, startRelay } from "../../fixtures/relay.js";
import { sample, scrape, total } from "../../fixtures/shim-metrics.js";
import type { ReceivedEvent } from "../../fixtures/sse-client.js";
import type { Shim } from "../../src/app.js";
import { e2eSetup } from "../helpers/e2e.js";
import { assistantText, props, sessionEvents } from "../helpers/session-events.js";

/**
 * `--source poll`: no upstream stream at all. The reconciler rebuilds /event (and
 * /global/event) of the real, broken opencode 1.14.48 from its REST API and its log.
 */
describe("the poll source in front of opencode 1.14.48", () => {
  const e2e = e2eSetup({ version: "1.14.48", config: { permission: { bash: "ask" } } });

  const shim = (flags: string[], upstream?: string): Promise<Shim> => e2e.startShim({ flags, upstream });

  /** A stream of /event or /global/event (whose first frame is a wrapped one). */
  const subscribe = (url: string) =>
    e2e.follow(url, (event) => event.json.type === "server.connected" || event.json.payload !== undefined);

  const idleOf = (sessionID: string) => (event: ReceivedEvent) =>
    event.json.type === "session.idle" && props(event).sessionID === sessionID;

  it("rebuilds a prompt's events in causal order, nothing twice", async () => {
    const polling = await shim(["--source", "poll"]);
    expect(polling.sources?.feeder).toBe("reconciler");
    const client = await subscribe(`${polling.url}/event`);
    // Beside it, a shim on upstream's own stream: the same prompt's events as opencode sends them.
    const streaming = await shim([]);
    const reference = await subscribe(`${streaming.url}/event`);
    const session = await createSession(polling.url);
    await prompt(polling.url, session.id, "[chunks:6] say hello");
    await client.waitFor(idleOf(session.id), 30_000, "session.idle");
    await reference.waitFor(idleOf(session.id), 30_000, "session.idle from upstream's stream");

    const events = sessionEvents(client.events, session.id);
    const types = events.map((event) => event.json.type);
    const first = (type: string, test: (event: ReceivedEvent) => boolean = () => true) =>
      events.findIndex((event) => event.json.type === type && test(event));
    const created = first("session.created");
    const user = first("message.updated", (event) => props(event).info?.role === "user");
    const assistant = first("message.updated", (event) => props(event).info?.role === "assistant");
    const finalText = events.findLastIndex(
      (event) =>
        event.json.type === "message.part.updated" && props(event).part?.text === replyText("[chunks:6]"),
    );
    const busy = first("session.status", (event) => props(event).status?.type === "busy");
    const idleStatus = first("session.status", (event) => props(event).status?.type === "idle");
    const idle = first("session.idle");
    expect(created).toBe(0);
    for (const index of [user, assistant, finalText, busy, idleStatus, idle])
      expect(index).toBeGreaterThan(created);
    expect(user).toBeLessThan(assistant);
    expect(assistant).toBeLessThan(finalText);
    expect(finalText).toBeLessThan(idle);
    expect(busy).toBeLessThan(idleStatus);
    expect(idleStatus).toBeLessThan(idle);
    expect(types.at(-1)).toBe("session.idle");

    const ids = client.events.map((event) => event.json.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Nothing said twice in other words either: one turn, one idle, no event repeated.
    expect(types.filter((type) => type === "session.idle")).toHaveLength(1);
    expect(
      events
        .filter((event) => event.json.type === "session.status")
        .map((event) => props(event).status?.type),
    ).toEqual(["busy", "idle"]);
    const content = events.map((event) => {
      const { time: _sent, ...rest } = (event.json.properties ?? {}) as Record<string, unknown>;
      return `${event.json.type} ${JSON.stringify(rest)}`;
    });
    expect(new Set(content).size).toBe(content.length);
    const { final, deltas } = assistantText(events);
    expect(final).toBe(replyText("[chunks:6]"));
    if (deltas) expect(deltas).toBe(final);
    // Shaped as upstream shapes them: each made-up event has the properties of the same
    // event from upstream's own stream, and its `info` / `part` / `status` only fields that
    // upstream's own events carry there (a made-up event may show a later state: a
    // session.created read after the prompt began already names its agent and model).
    const keysOf = (value: unknown) =>
      typeof value === "object" && value !== null ? Object.keys(value).sort() : [];
    const upstreamKeys = new Map<string, Set<string>>();
    const nestedKeys = new Map<string, Set<string>>();
    for (const event of sessionEvents(reference.events, session.id)) {
      const properties = (event.json.properties ?? {}) as Record<string, unknown>;
      upstreamKeys.set(
        event.json.type,
        new Set([...(upstreamKeys.get(event.json.type) ?? []), keysOf(properties).join()]),
      );
      for (const key of ["info", "part", "status"]) {
        nestedKeys.set(key, new Set([...(nestedKeys.get(key) ?? []), ...keysOf(properties[key])]));
      }
    }
    for (const event of events) {
      const properties = (event.json.properties ?? {}) as Record<string, unknown>;
      const known = [...(upstreamKeys.get(event.json.type) ?? [])];
      expect(known, `${event.json.type}: its properties`).toContain(keysOf(properties).join());
      for (const key of ["info", "part", "status"]) {
        for (const field of keysOf(properties[key])) {
          expect(nestedKeys.get(key)?.has(field), `${event.json.type}: ${key}.${field}`).toBe(true);
        }
      }
    }
    const partUpdate = events[finalText];
    expect(Object.keys(partUpdate?.json.properties ?? {}).sort()).toEqual(["part", "sessionID", "time"]);
    expect(partUpdate?.json.id).toMatch(/^evt_[0-9a-f]{12}[0-9A-Za-z]{14}$/);

    // The metrics say where these came from, and what they cost.
    const metrics = await scrape(polling.url);
    expect(sample(metrics, 'opencode_shim_events_in_total{source="reconciler",type="session.idle"}')).toBe(1);
    expect(
      sample(metrics, 'opencode_shim_events_in_total{source="stream",type="session.idle"}'),
    ).toBeUndefined();
    expect(total(metrics, "opencode_shim_reconciler_corrections_total")).toBeGreaterThanOrEqual(
      events.length,
    );
    expect(sample(metrics, "opencode_shim_reconciler_requests_total")).toBeGreaterThan(0);
    expect(sample(metrics, 'opencode_shim_source_info{mode="poll",feeder="reconciler"}')).toBe(1);
  });

  it("rebuilds a subagent's child session for the followers of its caller (?session=), and nothing of other sessions", async () => {
    const polling = await shim(["--source", "poll"]);
    const parent = await createSession(polling.url);
    const bystander = await createSession(polling.url);
    const follower = await subscribe(`${polling.url}/event?session=${parent.id}`);
    const task = { description: "greet", prompt: "say hello", subagent_type: "general" };
    await Promise.all([
      prompt(polling.url, parent.id, toolPrompt("task", task)),
      prompt(polling.url, bystander.id, "say hello"),
    ]);
    await follower.waitFor(idleOf(parent.id), 30_000, "the parent's session.idle");
    const created = follower.events.find(
      (event) =>
        event.json.type === "session.created" &&
        (props(event).info as { parentID?: string } | undefined)?.parentID === parent.id,
    );
    expect(created, "the child's session.created, from REST").toBeDefined();
    const child = (props(created as ReceivedEvent).info as { id: string }).id;
    await follower.waitFor(idleOf(child), 30_000, "the child's session.idle");
    const childText = sessionEvents(follower.events, child)
      .map((event) => props(event).part?.text)
      .filter((text) => text !== undefined);
    expect(childText).toContain(replyText("say hello"));
    const about = new Set(
      follower.events
        .filter((event) => !event.json.type.startsWith("server."))
        .map(
          (event) =>
            props(event).sessionID ??
            props(event).part?.sessionID ??
            props(event).info?.sessionID ??
            props(event).info?.id,
        ),
    );
    expect([...about].sort()).toEqual([parent.id, child].sort());
  });

  it("rebuilds a tool call that needs permission: asked, then the completed tool with its output, then idle", async () => {
    const polling = await shim(["--source", "poll"]);
    const client = await subscribe(`${polling.url}/event`);
    const session = await createSession(polling.url);
    const done = prompt(polling.url, session.id, "[bash:echo from-the-tool]");
    const asked = await client.waitFor(
      (event) => event.json.type === "permission.asked" && props(event).sessionID === session.id,
      30_000,
      "permission.asked",
    );
    const request = asked.json.properties as { id: string; permission: string; tool: { callID: string } };
    expect(request.permission).toBe("bash");
    const reply = await fetch(`${polling.url}/permission/${request.id}/reply`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reply: "once" }),
    });
    expect(reply.status).toBe(200);
    await done;
    await client.waitFor(idleOf(session.id), 30_000, "session.idle");

    const events = sessionEvents(client.events, session.id);
    const askedAt = events.indexOf(asked);
    const completedAt = events.findIndex((event) => {
      const part = props(event).part as
        | { callID?: string; state?: { status?: string; output?: string } }
        | undefined;
      return part?.callID === request.tool.callID && part.state?.status === "completed";
    });
    const completed = props(events[completedAt] as ReceivedEvent).part as { state: { output: string } };
    expect(completed.state.output).toContain("from-the-tool");
    const replied = events.find((event) => event.json.type === "permission.replied");
    expect(replied?.json.properties).toEqual({ sessionID: session.id, requestID: request.id, reply: "once" });
    const idleAt = events.findIndex((event) => event.json.type === "session.idle");
    expect(askedAt).toBeGreaterThan(-1);
    expect(askedAt).toBeLessThan(completedAt);
    expect(completedAt).toBeLessThan(idleAt);
  });

  it("rebuilds a question and its answers, and a todo list", async () => {
    const polling = await shim(["--source", "poll"]);
    const client = await subscribe(`${polling.url}/event`);
    const session = await createSession(polling.url);
    const question = SAMPLE_QUESTION;
    const done = prompt(polling.url, session.id, toolPrompt("question", question));
    const asked = await client.waitFor(
      (event) => event.json.type === "question.asked",
      30_000,
      "question.asked",
    );
    const { id } = asked.json.properties as { id: string };
    expect(asked.json.properties).toMatchObject({ sessionID: session.id, questions: question.questions });
    const reply = await fetch(`${polling.url}/question/${id}/reply`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ answers: [["Blue"]] }),
    });
    expect(reply.status).toBe(200);
    await done;
    const replied = await client.waitFor(
      (event) => event.json.type === "question.replied",
      30_000,
      "question.replied",
    );
    expect(replied.json.properties).toEqual({ sessionID: session.id, requestID: id, answers: [["Blue"]] });
    await client.waitFor(idleOf(session.id), 30_000, "session.idle");

    const todos = [{ content: "Write the test", status: "in_progress", priority: "high" }];
    await prompt(polling.url, session.id, toolPrompt("todowrite", { todos }));
    const updated = await client.waitFor(
      (event) => event.json.type === "todo.updated",
      30_000,
      "todo.updated",
    );
    expect(updated.json.properties).toEqual({ sessionID: session.id, todos });
  });

  it("with the log source, a new session reaches the client well within a second even at a 5 s interval", async () => {
    const polling = await shim([
      "--source",
      "poll",
      "--poll-interval",
      "5000",
      "--log-dir",
      e2e.opencode.logDir,
    ]);
    const client = await subscribe(`${polling.url}/event`);
    const started = Date.now();
    const session = await createSession(polling.url);
    await client.waitFor(
      (event) => event.json.type === "session.created" && props(event).sessionID === session.id,
      5000,
      "session.created",
    );
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("costs at most 5 upstream requests a second with 60 idle sessions: about 1", async () => {
    for (let i = 0; i < 60; i++) await createSession(e2e.opencode.url, { directory: e2e.opencode.otherDir });
    const relay: Relay = await startRelay(e2e.opencode.url);
    try {
      const polling = await shim(["--source", "poll"], relay.url);
      await subscribe(`${polling.url}/event?directory=${encodeURIComponent(e2e.opencode.otherDir)}`);
      const before = relay.requests.length;
      // Time passing is what is measured here.
      await sleep(6000);
      const perSecond = (relay.requests.length - before) / 6;
      // The bound is 5 a second; with nothing busy the shim reads the instance about once a second.
      expect(perSecond).toBeLessThanOrEqual(2);
      expect(perSecond).toBeGreaterThanOrEqual(0.5);
    } finally {
      await relay.close();
    }
  });

  it("serves /global/event itself, each event wrapped with its directory", async () => {
    const polling = await shim(["--source", "poll"]);
    const global = await subscribe(`${polling.url}/global/event`);
    expect(global.events[0]?.json).toMatchObject({ payload: { type: "server.connected", properties: {} } });
    // Its own instance (upstream's directory: it named none) is followed from the start…
    const own = await createSession(polling.url);
    const ownCreated = await global.waitFor(
      (event) =>
        (event.json.payload as { properties?: { info?: { id?: string } } }).properties?.info?.id === own.id,
      10_000,
      "session.created of its own instance",
    );
    expect(ownCreated.json).toMatchObject({
      directory: e2e.opencode.projectDir,
      payload: { type: "session.created" },
    });
    // …and so is any other instance a request names while it is connected, with no /event client at all.
    expect(polling.hub.subscriberTotal).toBe(1);
    const session = await createSession(polling.url, { directory: e2e.opencode.otherDir });
    await prompt(polling.url, session.id, "[chunks:3]", { directory: e2e.opencode.otherDir });
    const idle = await global.waitFor(
      (event) => {
        const payload = event.json.payload as
          | { type?: string; properties?: { sessionID?: string } }
          | undefined;
        return payload?.type === "session.idle" && payload.properties?.sessionID === session.id;
      },
      30_000,
      "session.idle on /global/event",
    );
    expect(idle.json.directory).toBe(e2e.opencode.otherDir);
    expect(typeof idle.json.project).toBe("string");
    const created = global.events.find((event) => {
      const payload = event.json.payload as { type?: string; properties?: { info?: { id?: string } } };
      return payload.type === "session.created" && payload.properties?.info?.id === session.id;
    });
    expect(created?.json.directory).toBe(e2e.opencode.otherDir);
  });
});
