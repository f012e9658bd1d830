import { describe, expect, it } from "vitest";
import { type FakeUpstream, fakeEvent } from "../../fixtures/fake-upstream.js";
import type { SseClient } from "../../fixtures/sse-client.js";
import { shimPerTest } from "../helpers/shim-per-test.js";

const harness = shimPerTest();

/** Sessions upstream knows: a parent with a child and a grandchild, and an unrelated one. */
function knowSessions(upstream: FakeUpstream) {
  upstream.sessions.set("ses_parent", { id: "ses_parent" });
  upstream.sessions.set("ses_child", { id: "ses_child", parentID: "ses_parent" });
  upstream.sessions.set("ses_grandchild", { id: "ses_grandchild", parentID: "ses_child" });
  upstream.sessions.set("ses_other", { id: "ses_other" });
}

/** An event about `sessionID`, numbered so a test can tell which it got. */
function about(upstream: FakeUpstream, sessionID: string, n: number, type = "message.part.delta") {
  upstream.emit({ directory: upstream.cwd, payload: fakeEvent(type, { sessionID, n }) });
}

const numbers = (client: SseClient) =>
  client.events
    .filter((event) => event.json.properties?.n !== undefined)
    .map((event) => event.json.properties?.n);

async function end(upstream: FakeUpstream, clients: SseClient[], sessionID = "ses_parent") {
  upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle", { sessionID }) });
  for (const client of clients) await client.waitFor((event) => event.json.type === "session.idle");
}

describe("GET /event?session=", () => {
  it("serves the session's events and its descendants', known before or created after, and nothing about other sessions or none", async () => {
    const { upstream } = await harness.start();
    knowSessions(upstream);
    const parent = await harness.connect("/event?session=ses_parent");
    const child = await harness.connect("/event?session=ses_child");
    const whole = await harness.connect("/event");
    about(upstream, "ses_parent", 1);
    about(upstream, "ses_child", 2);
    about(upstream, "ses_grandchild", 3);
    about(upstream, "ses_other", 4);
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("file.edited", { file: "a.ts", n: 5 }) });
    // A subagent started after the clients connected: its session.created names its parent.
    const info = { id: "ses_late", parentID: "ses_child", time: { created: 2, updated: 2 } };
    upstream.emit({
      directory: upstream.cwd,
      payload: fakeEvent("session.created", { sessionID: "ses_late", info }),
    });
    about(upstream, "ses_late", 6);
    about(upstream, "ses_child", 7, "session.idle");
    for (const client of [parent, child, whole])
      await client.waitFor((event) => event.json.properties?.n === 7);

    expect(numbers(whole)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(numbers(parent)).toEqual([1, 2, 3, 6, 7]);
    expect(parent.types()).toContain("session.created");
    expect(numbers(child)).toEqual([2, 3, 6, 7]);
    expect(child.types()[0]).toBe("server.connected");
  });

  it("takes several sessions, repeated or comma-separated", async () => {
    const { upstream } = await harness.start();
    knowSessions(upstream);
    const repeated = await harness.connect("/event?session=ses_child&session=ses_other");
    const commas = await harness.connect("/event?session=ses_child,ses_other");
    about(upstream, "ses_parent", 1);
    about(upstream, "ses_child", 2);
    about(upstream, "ses_other", 3);
    about(upstream, "ses_other", 4, "session.idle");
    for (const client of [repeated, commas]) {
      await client.waitFor((event) => event.json.type === "session.idle");
      expect(numbers(client)).toEqual([2, 3, 4]);
    }
  });

  it("resumes from Last-Event-ID or ?lastEventID= with only the session's missed events, none twice, ids of the whole stream", async () => {
    const { upstream } = await harness.start();
    knowSessions(upstream);
    const whole = await harness.connect("/event");
    const first = await harness.connect("/event?session=ses_child");
    about(upstream, "ses_child", 1);
    await first.waitFor((event) => event.json.properties?.n === 1);
    first.close();
    about(upstream, "ses_other", 2);
    about(upstream, "ses_child", 3);
    about(upstream, "ses_grandchild", 4);
    about(upstream, "ses_parent", 5);
    await whole.waitFor((event) => event.json.properties?.n === 5);
    const cursor = first.lastEventId ?? "";
    const byHeader = await harness.connect("/event?session=ses_child", { "last-event-id": cursor });
    const byQuery = await harness.connect(
      `/event?session=ses_child&lastEventID=${encodeURIComponent(cursor)}`,
    );
    about(upstream, "ses_child", 6);
    for (const client of [byHeader, byQuery]) {
      await client.waitFor((event) => event.json.properties?.n === 6);
      expect(numbers(client)).toEqual([3, 4, 6]);
    }
    // The ids are the whole stream's: a client may switch between the two without losing its place.
    const wholeIds = new Map(whole.events.map((event) => [event.json.properties?.n, event.id]));
    for (const event of byQuery.events.filter((event) => event.json.properties?.n !== undefined))
      expect(event.id).toBe(wholeIds.get(event.json.properties?.n));
    const switched = await harness.connect("/event", { "last-event-id": byQuery.lastEventId ?? "" });
    about(upstream, "ses_other", 7);
    await switched.waitFor((event) => event.json.properties?.n === 7);
    expect(numbers(switched)).toEqual([7]);
  });

  it("answers 400 for a malformed session ID and 404 for one opencode does not know, each saying why", async () => {
    const { upstream, shim } = await harness.start();
    knowSessions(upstream);
    for (const [query, status, error, says] of [
      ["session=bad", 400, "bad_request", '"bad" is not a session ID'],
      ["session=", 400, "bad_request", "session names no session"],
      ["session=ses_child,%2e%2e", 400, "bad_request", '".." is not a session ID'],
      ["session=ses_nobody", 404, "not_found", "opencode has no session ses_nobody"],
      ["session=ses_child&session=ses_nobody", 404, "not_found", "ses_nobody"],
    ] as const) {
      const response = await fetch(`${shim.url}/event?${query}`);
      expect(response.status, query).toBe(status);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).toBe(error);
      expect(body.message).toContain(says);
    }
    // Asked as the client, in the instance it names.
    const lookup = `GET /session/ses_nobody?session=ses_nobody&directory=${encodeURIComponent(upstream.cwd)}`;
    expect(upstream.requests).toContain(lookup);
  });

  it("asks opencode with the client's own credentials: upstream's 401 comes first", async () => {
    const { upstream, shim } = await harness.start({
      upstream: { password: "pw" },
      env: { OPENCODE_SERVER_PASSWORD: "pw" },
    });
    knowSessions(upstream);
    const refused = await fetch(`${shim.url}/event?session=ses_nobody`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Basic realm="Secure Area"');
    const auth = { authorization: `Basic ${Buffer.from("opencode:pw").toString("base64")}` };
    const unknown = await fetch(`${shim.url}/event?session=ses_nobody`, { headers: auth });
    expect(unknown.status).toBe(404);
    const known = await harness.connect("/event?session=ses_child", auth);
    expect(known.status).toBe(200);
    // Credentials in the query, as a browser's EventSource carries them, are the client's too.
    const token = `auth_token=${encodeURIComponent(Buffer.from("opencode:pw").toString("base64"))}`;
    for (const path of [`/event?session=ses_child&${token}`, `/session/ses_child/event?${token}`]) {
      const byToken = await harness.connect(path, { accept: "text/event-stream" });
      expect(byToken.status, path).toBe(200);
    }
  });

  it("tells a followed session's deletion, then keeps the stream open with heartbeats", async () => {
    const { upstream } = await harness.start({ flags: ["--heartbeat-interval", "50"] });
    knowSessions(upstream);
    const client = await harness.connect("/event?session=ses_child");
    const info = { id: "ses_child", parentID: "ses_parent", time: { created: 1, updated: 3 } };
    upstream.emit({
      directory: upstream.cwd,
      payload: fakeEvent("session.deleted", { sessionID: "ses_child", info }),
    });
    await client.waitFor((event) => event.json.type === "session.deleted");
    const deletedAt = client.events.length;
    await client.waitUntil(
      () =>
        client
          .types()
          .slice(deletedAt)
          .filter((type) => type === "server.heartbeat").length >= 2,
      5000,
      "2 heartbeats after the deletion",
    );
    expect(client.isEnded).toBe(false);
  });
});

describe("GET /session/{id}/event", () => {
  it("asked for an event stream, is the session's filtered stream in the session's own instance", async () => {
    const { upstream } = await harness.start();
    knowSessions(upstream);
    upstream.sessions.set("ses_elsewhere", { id: "ses_elsewhere", directory: "/srv/elsewhere" });
    const mine = await harness.connect("/session/ses_parent/event", { accept: "text/event-stream" });
    const elsewhere = await harness.connect("/session/ses_elsewhere/event", {
      accept: "application/json, text/event-stream;q=0.9",
    });
    about(upstream, "ses_parent", 1);
    about(upstream, "ses_grandchild", 2);
    about(upstream, "ses_other", 3);
    upstream.emit({
      directory: "/srv/elsewhere",
      payload: fakeEvent("message.updated", { sessionID: "ses_elsewhere", n: 4 }),
    });
    upstream.emit({
      directory: upstream.cwd,
      payload: fakeEvent("message.updated", { sessionID: "ses_elsewhere", n: 5 }),
    });
    upstream.emit({
      directory: "/srv/elsewhere",
      payload: fakeEvent("session.idle", { sessionID: "ses_elsewhere" }),
    });
    await end(upstream, [mine, elsewhere]);
    expect(numbers(mine)).toEqual([1, 2]);
    expect(numbers(elsewhere)).toEqual([4]);
  });

  it("passes any other request on that path through to opencode untouched", async () => {
    const { upstream, shim } = await harness.start();
    knowSessions(upstream);
    for (const accept of [
      undefined,
      "text/html,application/xhtml+xml,*/*;q=0.8",
      "*/*",
      "text/event-stream;q=0",
    ]) {
      const before = upstream.requests.length;
      const response = await fetch(`${shim.url}/session/ses_parent/event`, {
        headers: accept ? { accept } : {},
      });
      expect(response.headers.get("content-type") ?? "", String(accept)).not.toMatch(/event-stream/);
      await response.arrayBuffer();
      expect(upstream.requests.slice(before), String(accept)).toEqual(["GET /session/ses_parent/event"]);
    }
    const posted = await fetch(`${shim.url}/session/ses_parent/event`, {
      method: "POST",
      headers: { accept: "text/event-stream" },
    });
    await posted.arrayBuffer();
    expect(upstream.requests.at(-1)).toBe("POST /session/ses_parent/event");
  });

  it("answers 400 for a malformed ID and 404 for an unknown one", async () => {
    const { shim } = await harness.start();
    const headers = { accept: "text/event-stream" };
    const bad = await fetch(`${shim.url}/session/nope/event`, { headers });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "bad_request" });
    const before = harness.upstream.requests.length;
    const badDirectory = await fetch(`${shim.url}/session/ses_parent/event?directory=%ZZ`, { headers });
    expect(badDirectory.status).toBe(400);
    expect(await badDirectory.json()).toMatchObject({ error: "bad_request" });
    expect(harness.upstream.requests.slice(before), "upstream is not asked").toEqual([]);
    const unknown = await fetch(`${shim.url}/session/ses_nobody/event`, { headers });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      error: "not_found",
      message: "opencode has no session ses_nobody",
    });
  });
});
