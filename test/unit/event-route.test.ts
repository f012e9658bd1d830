import { describe, expect, it } from "vitest";
import { fakeEvent } from "../../fixtures/fake-upstream.js";
import type { SseClient } from "../../fixtures/sse-client.js";
import { shimPerTest } from "../helpers/shim-per-test.js";

const harness = shimPerTest();

describe("GET /event", () => {
  it("answers with opencode's headers and frames, server.connected first, an id on every event", async () => {
    const { upstream } = await harness.start();
    const client = await harness.connect();
    expect(client.status).toBe(200);
    expect(client.headers["content-type"]).toBe("text/event-stream");
    expect(client.headers["cache-control"]).toBe("no-cache, no-transform");
    expect(client.headers["x-accel-buffering"]).toBe("no");
    expect(client.headers["x-content-type-options"]).toBe("nosniff");
    expect(client.raw).toMatch(
      /^data: \{"id":"evt_[^"]+","type":"server.connected","properties":\{\}\}\n\n$/,
    );

    const payload = fakeEvent("session.created", { sessionID: "ses_1", info: { id: "ses_1", title: "t" } });
    upstream.emit({ directory: upstream.cwd, project: "prj", payload });
    const received = await client.waitFor((event) => event.json.type === "session.created");
    expect(received.json).toEqual(payload);
    expect(received.id).toMatch(/^[0-9a-f]+-\d+$/);
    expect(client.raw.endsWith(`data: ${JSON.stringify(payload)}\nid: ${received.id}\n\n`)).toBe(true);
  });

  it("serves each client the events of the instance it names: query, then header, then upstream's own", async () => {
    const { upstream } = await harness.start();
    const byDefault = await harness.connect("/event");
    const byQuery = await harness.connect(`/event?directory=${encodeURIComponent("/srv/a b")}`);
    const byHeader = await harness.connect("/event", {
      "x-opencode-directory": encodeURIComponent("/srv/c"),
    });
    const queryWins = await harness.connect("/event?directory=/srv/c", {
      "x-opencode-directory": "/srv/a%20b",
    });

    for (const directory of [upstream.cwd, "/srv/a b", "/srv/c", "/elsewhere"]) {
      upstream.emit({ directory, payload: fakeEvent("session.updated", { directory }) });
    }
    upstream.emit({ directory: "/done", payload: fakeEvent("marker") });
    const end = fakeEvent("session.idle", {});
    for (const directory of [upstream.cwd, "/srv/a b", "/srv/c"])
      upstream.emit({ directory, payload: { ...end, id: `${end.id}-${directory}` } });

    const seen = async (client: SseClient) => {
      await client.waitFor((event) => event.json.type === "session.idle");
      return client.events
        .filter((event) => event.json.type === "session.updated")
        .map((event) => event.json.properties?.directory);
    };
    expect(await seen(byDefault)).toEqual([upstream.cwd]);
    expect(await seen(byQuery)).toEqual(["/srv/a b"]);
    expect(await seen(byHeader)).toEqual(["/srv/c"]);
    expect(await seen(queryWins)).toEqual(["/srv/c"]);
  });

  it("leaves out the global stream's own frames, sync wrappers and duplicates", async () => {
    const { upstream } = await harness.start();
    const client = await harness.connect();
    const payload = fakeEvent("message.updated", { sessionID: "ses_1" });
    upstream.emit({ directory: upstream.cwd, payload });
    upstream.emit({
      directory: upstream.cwd,
      payload: { type: "sync", syncEvent: { id: payload.id }, id: payload.id },
    });
    upstream.emit({ directory: upstream.cwd, payload });
    upstream.emit({ payload: fakeEvent("server.heartbeat") });
    upstream.emit({ directory: "global", payload: fakeEvent("project.updated") });
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
    expect(client.types()).toEqual(["server.connected", "message.updated", "session.idle"]);
  });

  it("filters by ?workspace= when the client names one", async () => {
    const { upstream } = await harness.start();
    const client = await harness.connect("/event?workspace=wrk_a");
    upstream.emit({
      directory: upstream.cwd,
      workspace: "wrk_b",
      payload: fakeEvent("session.created", { w: "b" }),
    });
    upstream.emit({
      directory: upstream.cwd,
      workspace: "wrk_a",
      payload: fakeEvent("session.created", { w: "a" }),
    });
    upstream.emit({ directory: upstream.cwd, workspace: "wrk_a", payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
    expect(
      client.events
        .filter((event) => event.json.type === "session.created")
        .map((event) => event.json.properties?.w),
    ).toEqual(["a"]);
  });

  it("resumes a reconnecting client from Last-Event-ID with exactly what it missed", async () => {
    const { upstream } = await harness.start();
    const steady = await harness.connect();
    const flaky = await harness.connect();
    const emit = (n: number) =>
      upstream.emit({ directory: upstream.cwd, payload: fakeEvent("message.part.delta", { n }) });
    for (let n = 0; n < 5; n++) emit(n);
    await flaky.waitUntil(() => flaky.events.length === 6, 5000, "5 events");
    flaky.close();
    await flaky.ended;
    for (let n = 5; n < 12; n++) emit(n);
    await steady.waitUntil(() => steady.events.length === 13, 5000, "12 events");

    const back = await harness.connect("/event", { "last-event-id": flaky.lastEventId ?? "" });
    emit(12);
    await back.waitFor((event) => event.json.properties?.n === 12);
    const nums = (client: SseClient) =>
      client.events.filter((e) => e.json.type === "message.part.delta").map((e) => e.json.properties?.n);
    expect(nums(steady).slice(0, 12)).toEqual([...Array(12).keys()]);
    expect([...nums(flaky), ...nums(back)]).toEqual([...Array(13).keys()]);
    expect(back.types()[0]).toBe("server.connected");
  });

  it("starts a client afresh, server.connected first, when its cursor is older than the history", async () => {
    const { upstream } = await harness.start({ flags: ["--replay-size", "3"] });
    const first = await harness.connect();
    for (let n = 0; n < 3; n++)
      upstream.emit({ directory: upstream.cwd, payload: fakeEvent("message.part.delta", { n }) });
    await first.waitUntil(() => first.events.length === 4, 5000, "3 events");
    const cursor = first.events[1]?.id ?? "";
    for (let n = 3; n < 10; n++)
      upstream.emit({ directory: upstream.cwd, payload: fakeEvent("message.part.delta", { n }) });
    await first.waitUntil(() => first.events.length === 11, 5000, "10 events");

    const stale = await harness.connect("/event", { "last-event-id": cursor });
    const garbage = await harness.connect("/event", { "last-event-id": "\u00ff garbage" });
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    for (const client of [stale, garbage]) {
      await client.waitFor((event) => event.json.type === "session.idle");
      expect(client.types()).toEqual(["server.connected", "session.idle"]);
    }
  });

  it("sends server.heartbeat on the configured interval", async () => {
    await harness.start({ flags: ["--heartbeat-interval", "50"] });
    const client = await harness.connect();
    await client.waitUntil(
      () => client.types().filter((type) => type === "server.heartbeat").length >= 3,
      5000,
      "3 heartbeats",
    );
    const beat = client.events.find((event) => event.json.type === "server.heartbeat");
    expect(beat?.json).toMatchObject({ type: "server.heartbeat", properties: {} });
    expect(beat?.id).toBeUndefined();
  });

  it("ends the instance's streams after server.instance.disposed, and only those", async () => {
    const { upstream } = await harness.start();
    const mine = await harness.connect();
    const other = await harness.connect("/event?directory=/srv/other");
    const disposed = {
      type: "server.instance.disposed",
      properties: { directory: upstream.cwd },
      id: "evt_disposed",
    };
    upstream.emit({ directory: upstream.cwd, payload: disposed });
    await mine.ended;
    expect(mine.types()).toEqual(["server.connected", "server.instance.disposed"]);
    expect(other.isEnded).toBe(false);

    const again = await harness.connect();
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.created") });
    await again.waitFor((event) => event.json.type === "session.created");
  });

  it("fans each event out to many clients", async () => {
    const { upstream } = await harness.start();
    const many = await Promise.all(Array.from({ length: 40 }, () => harness.connect()));
    for (let n = 0; n < 20; n++)
      upstream.emit({ directory: upstream.cwd, payload: fakeEvent("message.part.delta", { n }) });
    for (const client of many) {
      await client.waitUntil(() => client.events.length === 21, 5000, "20 events");
      expect(client.events.slice(1).map((event) => event.json.properties?.n)).toEqual([...Array(20).keys()]);
    }
  });

  it("echoes upstream's CORS answer for the client's Origin", async () => {
    await harness.start();
    const local = await harness.connect("/event", { origin: "http://localhost:5173" });
    expect(local.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
    const foreign = await harness.connect("/event", { origin: "https://evil.example" });
    expect(foreign.status).toBe(200);
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("answers 502 with a JSON body when upstream cannot be reached", async () => {
    const { shim } = await harness.start();
    await harness.stopUpstream();
    const response = await shim.app.inject({ method: "GET", url: "/event" });
    expect(response.statusCode).toBe(502);
    expect(response.json()).toMatchObject({ error: "upstream_unavailable" });
  });
});

describe("GET /event with a password upstream", () => {
  const password = "s3cret";
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

  it("answers 401 exactly when upstream would, with upstream's challenge", async () => {
    const { upstream } = await harness.start({
      upstream: { password },
      env: { OPENCODE_SERVER_PASSWORD: password },
    });
    const anonymous = await harness.connect();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toBe('Basic realm="Secure Area"');
    const wrong = await harness.connect("/event", { authorization: basic("opencode", "nope") });
    expect(wrong.status).toBe(401);

    const right = await harness.connect("/event", { authorization: basic("opencode", password) });
    expect(right.status).toBe(200);
    const token = await harness.connect(
      `/event?auth_token=${encodeURIComponent(Buffer.from(`opencode:${password}`).toString("base64"))}`,
    );
    expect(token.status).toBe(200);
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await right.waitFor((event) => event.json.type === "session.idle");
    await token.waitFor((event) => event.json.type === "session.idle");
  });

  it("uses OPENCODE_SERVER_USERNAME for its own connection", async () => {
    await harness.start({
      upstream: { password, username: "alice" },
      env: { OPENCODE_SERVER_PASSWORD: password, OPENCODE_SERVER_USERNAME: "alice" },
    });
    const client = await harness.connect("/event", { authorization: basic("alice", password) });
    expect(client.status).toBe(200);
  });

  it("refuses to start, clearly, without the password upstream wants", async () => {
    await harness.startUpstream({ password });
    await expect(harness.startShim()).rejects.toThrow(/requires a password: set OPENCODE_SERVER_PASSWORD/);
    await expect(harness.startShim({ env: { OPENCODE_SERVER_PASSWORD: "wrong" } })).rejects.toThrow(
      /rejected the credentials/,
    );
  });
});

describe("--source passthrough", () => {
  it("relays upstream's own /event and /global/event untouched", async () => {
    const { upstream, shim } = await harness.start({ flags: ["--source", "passthrough"] });
    expect(shim.sources).toBeUndefined();
    const event = await harness.connect("/event");
    // The fake upstream's ids: the frame came from upstream, not from the hub.
    expect(event.events[0]?.json.id).toMatch(/^evt_fake/);
    expect(event.events[0]?.id).toBeUndefined();
    const global = await harness.open("/global/event");
    await global.waitFor(
      (e) => (e.json.payload as { type?: string } | undefined)?.type === "server.connected",
    );
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    const idle = await global.waitFor(
      (e) => (e.json.payload as { type?: string } | undefined)?.type === "session.idle",
    );
    expect(idle.id).toBeUndefined();
  });
});
