import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { replyText, SAMPLE_QUESTION, toolPrompt } from "../../fixtures/model-server.js";
import { createSession } from "../../fixtures/opencode-rest.js";
import { sample, scrape } from "../../fixtures/shim-metrics.js";
import type { ReceivedEvent, SseClient } from "../../fixtures/sse-client.js";
import type { StreamFault } from "../../fixtures/stream-faults.js";
import type { Shim } from "../../src/app.js";
import { restStateOf, stateOf, toldTwice, upstreamSaid } from "../helpers/client-state.js";
import { e2eSetup } from "../helpers/e2e.js";
import { RestTruth } from "../helpers/rest-truth.js";
import { assistantText, props, sessionEvents } from "../helpers/session-events.js";
import { eventually } from "../helpers/wait.js";

/** The convergence promise: every change REST shows reaches clients within this long. */
const BOUND_MS = 2_000;

const TODOS = [{ content: "Write the test", status: "in_progress", priority: "high" }];

/** The prompts every mode is judged on: what users do, one session each. */
const SCRIPT = [
  { kind: "plain reply", text: "say hello" },
  { kind: "long streamed reply", text: "[chunks:40] [delay:25] a long answer" },
  { kind: "tool call asking permission", text: "[bash:echo from-the-tool]" },
  { kind: "question", text: toolPrompt("question", SAMPLE_QUESTION) },
  { kind: "todos", text: toolPrompt("todowrite", { todos: TODOS }) },
  { kind: "two turns back to back", text: "say hello" },
] as const;
type Kind = (typeof SCRIPT)[number]["kind"];
/** Turns each kind makes: the back-to-back one is two, the second asked the moment the first is answered. */
const turnsOf = (kind: Kind) => (kind === "two turns back to back" ? 2 : 1);

/**
 * The kinds of event a client is owed, but for those a made-up stream cannot always
 * repeat: text deltas (never stored upstream), diffs that say nothing new, and
 * `session.updated` when the session's announcement already carried its latest state
 * (the session's state is compared instead).
 */
function owedTypes(events: ReceivedEvent[]): Set<string> {
  const types = new Set<string>();
  for (const event of events) {
    const { type } = event.json;
    if (type === "message.part.delta" || type === "session.updated" || type.startsWith("session.next."))
      continue;
    if (type === "session.diff" && (props(event).diff as unknown[] | undefined)?.length === 0) continue;
    types.add(type);
  }
  return types;
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** Asks through `base`, as a client would, answered at once (204). */
async function promptAsync(base: string, sessionID: string, text: string): Promise<void> {
  const prompted = await post(`${base}/session/${sessionID}/prompt_async`, {
    parts: [{ type: "text", text }],
  });
  expect(prompted.status).toBe(204);
}

/** Once `client` is asked permission for the session's tool, allows it once through `base`, as a user would. */
async function allowOnce(base: string, client: SseClient, sessionID: string): Promise<void> {
  const asked = await client.waitFor(
    (event) => event.json.type === "permission.asked" && props(event).sessionID === sessionID,
    30_000,
    "permission.asked",
  );
  const { id } = asked.json.properties as { id: string };
  expect((await post(`${base}/permission/${id}/reply`, { reply: "once" })).status).toBe(200);
}

/**
 * Runs the script through `base`, answering the permission and the question there as a
 * user would, once `client` (following the same instance) has been asked. Resolves with
 * the session of each kind, once each is idle on the client.
 */
async function runScript(base: string, client: SseClient, truth?: RestTruth): Promise<Map<Kind, string>> {
  const sessions = new Map<Kind, string>();
  for (const { kind, text } of SCRIPT) {
    const session = await createSession(base);
    truth?.follow(session.id);
    sessions.set(kind, session.id);
    if (turnsOf(kind) === 2) {
      const first = await post(`${base}/session/${session.id}/message`, { parts: [{ type: "text", text }] });
      expect(first.status).toBe(200);
      await first.arrayBuffer();
    }
    await promptAsync(base, session.id, text);
    if (kind === "tool call asking permission") await allowOnce(base, client, session.id);
    if (kind === "question") {
      const asked = await client.waitFor(
        (event) => event.json.type === "question.asked" && props(event).sessionID === session.id,
        30_000,
        `question.asked (${kind})`,
      );
      const { id } = asked.json.properties as { id: string };
      expect((await post(`${base}/question/${id}/reply`, { answers: [["Blue"]] })).status).toBe(200);
    }
    await eventually(
      () =>
        client.events.filter(
          (event) => event.json.type === "session.idle" && props(event).sessionID === session.id,
        ).length >= turnsOf(kind),
      30_000,
      `session.idle (${kind})`,
    );
  }
  return sessions;
}

describe("a lying stream between the shim and opencode 1.14.48", () => {
  /** opencode: 1.14.48 behind the relay and the shim; reference: 1.14.41, whose own /event tells what is owed. */
  const e2e = e2eSetup({
    version: "1.14.48",
    reference: "1.14.41",
    config: { permission: { bash: "ask" } },
    relay: true,
  });
  /** What a client of 1.14.41's own /event gets for each prompt. */
  const owed = new Map<Kind, Set<string>>();

  beforeAll(async () => {
    const direct = await e2e.open(`${e2e.reference.url}/event`);
    await direct.waitFor((event) => event.json.type === "server.connected");
    for (const [kind, sessionID] of await runScript(e2e.reference.url, direct)) {
      owed.set(kind, owedTypes(sessionEvents(direct.events, sessionID)));
    }
  });

  afterEach(() => {
    e2e.relay.setStreamFault({ kind: "honest" });
  });

  async function shimBehindRelay(flags: string[] = []): Promise<{ shim: Shim; client: SseClient }> {
    // A short hold, so that the return to an honest stream takes seconds, not a minute.
    const shim = await e2e.startShim({ flags, overrides: { judge: { holdMs: 3_000 } } });
    const client = await e2e.open(`${shim.url}/event`);
    await client.waitFor((event) => event.json.type === "server.connected");
    return { shim, client };
  }

  async function health(shim: Shim): Promise<{ status: string; reason?: string }> {
    const response = await fetch(`${shim.url}/shim/health`);
    expect(response.status).toBe(200);
    return (await response.json()) as { status: string; reason?: string };
  }

  it("an honest stream that goes quiet is not a lying one: an idle instance, a tool call that runs for seconds without a word", async () => {
    const { shim, client } = await shimBehindRelay(["--log-dir", e2e.opencode.logDir]);
    const statuses = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        statuses.add((await health(shim)).status);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    try {
      // A quiet spell: the time passing is the scenario, not a wait for something.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const session = await createSession(shim.url);
      await promptAsync(shim.url, session.id, "[bash:sleep 6; echo slept]");
      await allowOnce(shim.url, client, session.id);
      // The tool runs for 6 s, and the stream says nothing meanwhile.
      await client.waitFor(
        (event) =>
          event.json.type === "message.part.updated" &&
          props(event).sessionID === session.id &&
          (props(event).part as { state?: { status?: string } }).state?.status === "running",
        30_000,
        "the tool running",
      );
      const spellBegan = e2e.relay.requests.length;
      await client.waitFor(
        (event) => event.json.type === "session.idle" && props(event).sessionID === session.id,
        30_000,
        "session.idle",
      );
      // Reads follow change: nothing changed while the tool ran, so its messages were read
      // next to never (a busy session is read at least every 10 s while the log tells every
      // change), and its end was seen at once.
      const spell = e2e.relay.requests.slice(spellBegan);
      const messageReads = spell.filter((line) => line.startsWith(`GET /session/${session.id}/message`));
      expect(messageReads.length, spell.join("\n")).toBeLessThanOrEqual(4);
      const events = sessionEvents(client.events, session.id);
      expect(assistantText(events).deltas).toBe(assistantText(events).final);
      expect(events.filter((event) => event.json.type === "message.part.delta").length).toBeGreaterThan(1);
    } finally {
      watching = false;
      await watch;
    }
    expect([...statuses]).toEqual(["ok"]);
    const metrics = await scrape(shim.url);
    expect(metrics).not.toMatch(/^opencode_shim_feeder_switches_total\{/m);
    expect(metrics).not.toMatch(/^opencode_shim_reconciler_corrections_total\{/m);
  });

  it("a /global/event client connected while the stream told the truth is not left on it once it lies", async () => {
    const { shim, client } = await shimBehindRelay();
    const global = await e2e.open(`${shim.url}/global/event`);
    await global.waitFor(
      (event) => (event.json.payload as { type?: string } | undefined)?.type === "server.connected",
    );
    const payloads = () =>
      global.events
        .filter((event) => event.json.directory === e2e.opencode.projectDir)
        .map((event) => ({ ...event, json: event.json.payload as ReceivedEvent["json"] }));
    // Honest first: the global client is on the shim's hub, fed by upstream's stream.
    const first = await createSession(shim.url);
    await post(`${shim.url}/session/${first.id}/message`, {
      parts: [{ type: "text", text: "[chunks:6] before" }],
    });
    await eventually(
      () =>
        payloads().some((event) => event.json.type === "session.idle" && props(event).sessionID === first.id),
      30_000,
      "session.idle on the global client, honest",
    );
    e2e.relay.setStreamFault({ kind: "mute" });
    const sessions: string[] = [];
    for (const text of ["[chunks:20] [delay:25] after", "[bash:echo from-the-tool]"]) {
      const session = await createSession(shim.url);
      sessions.push(session.id);
      await promptAsync(shim.url, session.id, text);
      if (text.startsWith("[bash:")) await allowOnce(shim.url, client, session.id);
      await eventually(
        () =>
          payloads().some(
            (event) => event.json.type === "session.idle" && props(event).sessionID === session.id,
          ),
        30_000,
        "session.idle on the global client, mute",
      );
    }
    expect(e2e.relay.frames.dropped, "the relay really lied").toBeGreaterThan(0);
    // The global client ends up where opencode is, as the /event client does.
    for (const sessionID of sessions) {
      const events = sessionEvents(payloads(), sessionID);
      const told = stateOf(events);
      const truthNow = await restStateOf(e2e.opencode.url, sessionID);
      expect(told.messages).toEqual(truthNow.messages);
      expect(told.parts).toEqual(truthNow.parts);
      expect(events.filter((event) => event.json.type === "session.idle")).toHaveLength(1);
      expect(toldTwice(events, upstreamSaid(e2e.relay))).toEqual([]);
    }
    expect(assistantText(sessionEvents(payloads(), sessions[0] ?? "")).final).toBe(replyText("[chunks:20]"));
    await eventually(async () => (await health(shim)).status === "degraded", 15_000, "health degraded", 500);
  });

  /** Half the modes with opencode's log followed (as `npm start` does), half with REST alone. */
  const modes: Array<{ name: string; fault: StreamFault; followLog: boolean }> = [
    { name: "mute (connected and heartbeats only)", fault: { kind: "mute" }, followLog: false },
    {
      name: "lossy (40 % of content frames dropped)",
      fault: { kind: "drop", percent: 40, seed: 7 },
      followLog: false,
    },
    { name: "losing only the sync events", fault: { kind: "drop-sync" }, followLog: true },
    { name: "late by 5 s", fault: { kind: "delay", ms: 5_000 }, followLog: true },
  ];

  for (const { name, fault, followLog } of modes) {
    it(`${name}: clients converge on REST within the bound, nothing twice; degraded until the stream is honest again, then deltas come back`, async () => {
      const { shim, client } = await shimBehindRelay(followLog ? ["--log-dir", e2e.opencode.logDir] : []);
      e2e.relay.setStreamFault(fault);
      const truth = new RestTruth(e2e.opencode.url);
      let sessions: Map<Kind, string>;
      try {
        sessions = await runScript(shim.url, client, truth);
        // Changes after session.idle (a title, a last diff) get the bound to arrive too.
        await new Promise((resolve) => setTimeout(resolve, BOUND_MS));
      } finally {
        await truth.stop();
      }
      expect(e2e.relay.frames.dropped, "the relay really lied").toBeGreaterThan(0);

      for (const [kind, sessionID] of sessions) {
        const events = sessionEvents(client.events, sessionID);
        // What a client of 1.14.41's own /event gets, a client of the shim gets too.
        expect(
          [...(owed.get(kind) ?? [])].filter((type) => !owedTypes(events).has(type)),
          kind,
        ).toEqual([]);
        // It ends up where opencode is: every message, every part as it ended, the todo list.
        const told = stateOf(events);
        const truthNow = await restStateOf(e2e.opencode.url, sessionID);
        expect(told.session, kind).toEqual(truthNow.session);
        expect(told.messages, kind).toEqual(truthNow.messages);
        expect(told.parts, kind).toEqual(truthNow.parts);
        expect(told.todos, kind).toEqual(truthNow.todos);
        // Nothing said twice — beyond what upstream itself said again (it repeats "busy") —
        // and one idle for one turn.
        expect(toldTwice(events, upstreamSaid(e2e.relay)), kind).toEqual([]);
        expect(
          events.filter((event) => event.json.type === "session.idle"),
          kind,
        ).toHaveLength(turnsOf(kind));
      }
      const sessionOf = (kind: Kind) => sessions.get(kind) ?? "";
      const longReply = sessionEvents(client.events, sessionOf("long streamed reply"));
      expect(assistantText(longReply).final).toBe(replyText("[chunks:40]"));
      // Merged, not switched: the deltas a lying stream still carries reach clients word by word.
      if (fault.kind === "drop" || fault.kind === "drop-sync")
        expect(longReply.filter((event) => event.json.type === "message.part.delta").length).toBeGreaterThan(
          5,
        );
      const toolDone = [
        ...stateOf(sessionEvents(client.events, sessionOf("tool call asking permission"))).parts.values(),
      ].find((part) => part.type === "tool") as { state: { status: string; output: string } } | undefined;
      expect(toolDone?.state).toMatchObject({ status: "completed" });
      expect(toolDone?.state.output).toContain("from-the-tool");
      const questionEvents = sessionEvents(client.events, sessionOf("question"));
      expect(
        questionEvents.find((event) => event.json.type === "question.replied")?.json.properties,
      ).toMatchObject({
        answers: [["Blue"]],
      });

      // Within the bound of REST showing each change.
      const { latencies, missing } = truth.compare(client.events);
      expect(missing).toEqual([]);
      expect(latencies.size).toBeGreaterThan(20);
      const late = [...latencies].filter(([, ms]) => ms > BOUND_MS);
      expect(late, `changes later than ${BOUND_MS} ms`).toEqual([]);

      // The shim says it had to work around the stream, once, and counts it.
      const degraded = await health(shim);
      expect(degraded.status).toBe("degraded");
      expect(degraded.reason).toMatch(/did not carry/);
      const metrics = await scrape(shim.url);
      expect(sample(metrics, 'opencode_shim_feeder_switches_total{to="reconciler",reason="lying"}')).toBe(1);
      expect(sample(metrics, "opencode_shim_degraded")).toBe(1);

      // Honest again: one turn carried in full, and the shim is back on it once the hold is over…
      e2e.relay.setStreamFault({ kind: "honest" });
      // A late stream is honest once what it held back is out.
      await eventually(() => e2e.relay.framesWaiting === 0, 15_000, "the late frames out");
      const honest = await createSession(shim.url);
      await post(`${shim.url}/session/${honest.id}/message`, {
        parts: [{ type: "text", text: "[chunks:6] honest" }],
      });
      await eventually(async () => (await health(shim)).status === "ok", 30_000, "health ok again", 500);
      // …and deltas come word by word again.
      const session = await createSession(shim.url);
      await post(`${shim.url}/session/${session.id}/message`, {
        parts: [{ type: "text", text: "[chunks:12] back" }],
      });
      await client.waitFor(
        (event) => event.json.type === "session.idle" && props(event).sessionID === session.id,
        30_000,
        "session.idle on the honest stream",
      );
      const deltas = sessionEvents(client.events, session.id).filter(
        (event) => event.json.type === "message.part.delta",
      );
      expect(deltas.length).toBeGreaterThanOrEqual(12);
      expect(assistantText(sessionEvents(client.events, session.id))).toEqual({
        final: replyText("[chunks:12]"),
        deltas: replyText("[chunks:12]"),
      });
      const after = await scrape(shim.url);
      expect(sample(after, 'opencode_shim_feeder_switches_total{to="stream",reason="honest"}')).toBe(1);
      expect(sample(after, "opencode_shim_degraded_seconds_total")).toBeGreaterThan(0);
    });
  }
});
