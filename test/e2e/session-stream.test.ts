import { createOpencodeClient } from "@opencode-ai/sdk";
import { describe, expect, it } from "vitest";
import { DEFAULT_REPLY, toolPrompt } from "../../fixtures/model-server.js";
import { call, createSession, promptAsync } from "../../fixtures/opencode-rest.js";
import type { ReceivedEvent, SseClient } from "../../fixtures/sse-client.js";
import { e2eSetup } from "../helpers/e2e.js";
import { props } from "../helpers/session-events.js";

const SERVER_OWN = new Set(["server.connected", "server.heartbeat"]);
const WAIT_MS = 60_000;

/** The session an event names, read as a client would: its sessionID, its part's, its message's, or the session it carries. */
function sessionNamed(event: ReceivedEvent): string | undefined {
  const p = props(event) as Record<string, { sessionID?: unknown; id?: unknown } | unknown>;
  const part = p.part as { sessionID?: unknown } | undefined;
  const info = p.info as { sessionID?: unknown; id?: unknown } | undefined;
  for (const candidate of [p.sessionID, part?.sessionID, info?.sessionID, info?.id])
    if (typeof candidate === "string") return candidate;
  return undefined;
}

/** The events a client got up to (and with) the first that `marks`, the stream's own left out. */
function upTo(client: SseClient, marks: (event: ReceivedEvent) => boolean): ReceivedEvent[] {
  const end = client.events.findIndex(marks);
  expect(end, "the marker is there").toBeGreaterThanOrEqual(0);
  return client.events.slice(0, end + 1).filter((event) => !SERVER_OWN.has(event.json.type));
}

/** What identifies an event on the wire: its id line and its payload's id. */
const ids = (events: ReceivedEvent[]) => events.map((event) => `${event.id} ${event.json.id}`);

/** Real opencode 1.14.48, its /event mute: the shim's session streams, with real sessions and a real subagent. */
describe("following one session through the shim, in front of opencode 1.14.48", () => {
  const e2e = e2eSetup({ version: "1.14.48", shim: true });

  /** Renames the session: a session.updated every stream of it gets after what came before. */
  async function mark(sessionID: string, title: string) {
    await call(e2e.shim.url, "PATCH", `/session/${sessionID}`, { title });
  }
  const isMark = (sessionID: string, title: string) => (event: ReceivedEvent) =>
    event.json.type === "session.updated" &&
    sessionNamed(event) === sessionID &&
    (props(event).info as { title?: string } | undefined)?.title === title;
  const idleOf = (sessionID: string) => (event: ReceivedEvent) =>
    event.json.type === "session.idle" && props(event).sessionID === sessionID;

  /** A session's own stream at /session/{id}/event, as EventSource or curl -H "Accept: text/event-stream" ask for it. */
  async function ownStream(sessionID: string) {
    const client = await e2e.open(`${e2e.shim.url}/session/${sessionID}/event`, {
      accept: "text/event-stream",
    });
    expect(client.status).toBe(200);
    await client.waitFor((event) => event.json.type === "server.connected");
    return client;
  }

  it("two sessions prompted at once: each follower gets exactly its session's events, in the whole stream's order, also from /session/{id}/event", async () => {
    const a = await createSession(e2e.shim.url);
    const b = await createSession(e2e.shim.url);
    const whole = await e2e.follow(`${e2e.shim.url}/event`);
    const followA = await e2e.follow(`${e2e.shim.url}/event?session=${a.id}`);
    const followB = await e2e.follow(`${e2e.shim.url}/event?session=${b.id}`);
    const ownA = await ownStream(a.id);
    const ownB = await ownStream(b.id);
    await Promise.all([
      promptAsync(e2e.shim.url, a.id, "[chunks:12] [delay:15]"),
      promptAsync(e2e.shim.url, b.id, "[chunks:12] [delay:15]"),
    ]);
    for (const [session, clients] of [
      [a.id, [whole, followA, ownA]],
      [b.id, [whole, followB, ownB]],
    ] as const) {
      for (const client of clients)
        await client.waitFor(idleOf(session), WAIT_MS, `${session}'s session.idle`);
      await mark(session, `done ${session}`);
      for (const client of clients)
        await client.waitFor(isMark(session, `done ${session}`), WAIT_MS, "the mark");
    }

    for (const [session, follower, own] of [
      [a.id, followA, ownA],
      [b.id, followB, ownB],
    ] as const) {
      const marker = isMark(session, `done ${session}`);
      const expected = upTo(whole, marker).filter((event) => sessionNamed(event) === session);
      expect(expected.map((event) => event.json.type)).toEqual(
        expect.arrayContaining([
          "message.updated",
          "message.part.delta",
          "message.part.updated",
          "session.idle",
        ]),
      );
      const got = upTo(follower, marker);
      expect(got.every((event) => sessionNamed(event) === session)).toBe(true);
      expect(ids(got)).toEqual(ids(expected));
      expect(ids(upTo(own, marker))).toEqual(ids(expected));
    }
  });

  it("a prompt whose model calls the task tool brings the subagent's child session to the parent's followers", async () => {
    const parent = await createSession(e2e.shim.url);
    const bystander = await createSession(e2e.shim.url);
    const whole = await e2e.follow(`${e2e.shim.url}/event`);
    const follower = await e2e.follow(`${e2e.shim.url}/event?session=${parent.id}`);
    const own = await ownStream(parent.id);
    const task = { description: "greet", prompt: "say hello", subagent_type: "general" };
    await Promise.all([
      promptAsync(e2e.shim.url, parent.id, toolPrompt("task", task)),
      promptAsync(e2e.shim.url, bystander.id, "say hello"),
    ]);
    for (const client of [whole, follower, own])
      await client.waitFor(idleOf(parent.id), WAIT_MS, "the parent's end");
    await whole.waitFor(idleOf(bystander.id), WAIT_MS, "the bystander's end");

    const created = follower.events.find(
      (event) =>
        event.json.type === "session.created" &&
        (props(event).info as { parentID?: string } | undefined)?.parentID === parent.id,
    );
    expect(created, "the child's session.created").toBeDefined();
    const child = (props(created as ReceivedEvent).info as { id: string }).id;
    // The subagent's reply, streamed in the child session, reached the parent's follower.
    const childText = follower.events
      .filter((event) => event.json.type === "message.part.updated" && sessionNamed(event) === child)
      .map((event) => (props(event).part as { text?: string } | undefined)?.text);
    expect(childText).toContain(DEFAULT_REPLY);
    expect(follower.events.some((event) => sessionNamed(event) === bystander.id)).toBe(false);

    await mark(parent.id, "task done");
    const marker = isMark(parent.id, "task done");
    for (const client of [whole, follower, own]) await client.waitFor(marker, WAIT_MS, "the mark");
    const family = new Set([parent.id, child]);
    const expected = upTo(whole, marker).filter((event) => family.has(sessionNamed(event) ?? ""));
    expect(ids(upTo(follower, marker))).toEqual(ids(expected));
    expect(ids(upTo(own, marker))).toEqual(ids(expected));
  });

  it("resumes with Last-Event-ID or ?lastEventID= with only the session's missed events, none twice", async () => {
    const a = await createSession(e2e.shim.url);
    const b = await createSession(e2e.shim.url);
    const whole = await e2e.follow(`${e2e.shim.url}/event`);
    const first = await e2e.follow(`${e2e.shim.url}/event?session=${a.id}`);
    await mark(a.id, "before");
    await first.waitFor(isMark(a.id, "before"), WAIT_MS, "the first mark");
    const cursor = first.lastEventId as string;
    expect(cursor).toBeDefined();
    first.close();
    // While it is away: both sessions work.
    await Promise.all([
      promptAsync(e2e.shim.url, a.id, "[chunks:5]"),
      promptAsync(e2e.shim.url, b.id, "[chunks:5]"),
    ]);
    await whole.waitFor(idleOf(a.id), WAIT_MS, "a's end");
    await whole.waitFor(idleOf(b.id), WAIT_MS, "b's end");
    await mark(a.id, "after");
    await whole.waitFor(isMark(a.id, "after"), WAIT_MS, "the second mark");

    const byHeader = await e2e.open(`${e2e.shim.url}/event?session=${a.id}`, { "last-event-id": cursor });
    const byQuery = await e2e.open(
      `${e2e.shim.url}/event?session=${a.id}&lastEventID=${encodeURIComponent(cursor)}`,
    );
    const cursorAt = whole.events.findIndex((event) => event.id === cursor);
    expect(cursorAt).toBeGreaterThan(0);
    const marker = isMark(a.id, "after");
    const missed = upTo(whole, marker)
      .slice(cursorAt)
      .filter((event) => event.id !== cursor && sessionNamed(event) === a.id);
    expect(missed.map((event) => event.json.type)).toContain("session.idle");
    for (const client of [byHeader, byQuery]) {
      await client.waitFor(marker, WAIT_MS, "the missed events");
      expect(client.events[0]?.json.type).toBe("server.connected");
      expect(ids(upTo(client, marker))).toEqual(ids(missed));
    }
  });

  it("the official SDK follows one session as the README shows it, ?session= in its query", async () => {
    const a = await createSession(e2e.shim.url);
    const b = await createSession(e2e.shim.url);
    const client = createOpencodeClient({ baseUrl: e2e.shim.url });
    const abort = new AbortController();
    e2e.afterTest(() => abort.abort());
    const sessionID = a.id;
    const events = await client.event.subscribe({
      query: { session: sessionID } as { directory?: string },
      signal: abort.signal,
    });
    const stream = events.stream as AsyncGenerator<{ type: string; properties: Record<string, unknown> }>;
    expect((await stream.next()).value?.type).toBe("server.connected");
    await promptAsync(e2e.shim.url, b.id, "say hello");
    await promptAsync(e2e.shim.url, a.id, "say hello");
    const seen: Array<{ type: string; properties: Record<string, unknown> }> = [];
    for await (const event of stream) {
      seen.push(event);
      if (event.type === "session.idle" && event.properties.sessionID === a.id) break;
    }
    abort.abort();
    const sessions = new Set(seen.map((event) => sessionNamed({ json: event } as unknown as ReceivedEvent)));
    expect([...sessions]).toEqual([a.id]);
    expect(seen.map((event) => event.type)).toContain("message.part.delta");
  });

  it("a session deleted while followed: its session.deleted, then heartbeats, the stream still open", async () => {
    const beating = await e2e.startShim({ flags: ["--heartbeat-interval", "200"] });
    const session = await createSession(beating.url);
    const follower = await e2e.follow(`${beating.url}/event?session=${session.id}`);
    await call(beating.url, "DELETE", `/session/${session.id}`);
    const deleted = await follower.waitFor(
      (event) => event.json.type === "session.deleted" && sessionNamed(event) === session.id,
      WAIT_MS,
      "session.deleted",
    );
    const after = follower.events.indexOf(deleted);
    await follower.waitUntil(
      () =>
        follower.events.slice(after).filter((event) => event.json.type === "server.heartbeat").length >= 2,
      WAIT_MS,
      "two heartbeats after it",
    );
    expect(follower.isEnded).toBe(false);
  });

  it("answers 400 for a malformed session ID and 404 for one opencode does not know", async () => {
    for (const path of ["/event?session=nope", "/session/nope/event"]) {
      const response = await fetch(`${e2e.shim.url}${path}`, { headers: { accept: "text/event-stream" } });
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({
        error: "bad_request",
        message: '"nope" is not a session ID',
      });
    }
    for (const path of [
      "/event?session=ses_0000000000000000000000000",
      "/session/ses_0000000000000000000000000/event",
    ]) {
      const response = await fetch(`${e2e.shim.url}${path}`, { headers: { accept: "text/event-stream" } });
      expect(response.status, path).toBe(404);
      expect(await response.json()).toMatchObject({
        error: "not_found",
        message: "opencode has no session ses_0000000000000000000000000",
      });
    }
    // Anything else on that path is opencode's, untouched: its web app.
    const page = await fetch(`${e2e.shim.url}/session/ses_0000000000000000000000000/event`);
    const direct = await fetch(`${e2e.opencode.url}/session/ses_0000000000000000000000000/event`);
    expect(page.status).toBe(direct.status);
    expect(page.headers.get("content-type")).toBe(direct.headers.get("content-type"));
    expect(await page.text()).toBe(await direct.text());
  });
});
