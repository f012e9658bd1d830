import { describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/hub.js";
import { Subscriber } from "../../src/hub/subscriber.js";
import type { Envelope, EventOrigin } from "../../src/hub/update.js";
import { Mirror } from "../../src/opencode/mirror.js";
import { OpencodeSink } from "../../src/opencode/sink.js";
import { FakeStream } from "../helpers/fake-stream.js";
import { RecordingMetrics } from "../helpers/recording-metrics.js";

const DIR = "/work/project";
const OTHER = "/work/other";

let counter = 0;
function envelope(
  type: string,
  properties: Record<string, unknown>,
  origin: EventOrigin = "stream",
  directory = DIR,
): Envelope {
  return { directory, origin, payload: { id: `evt_${++counter}`, type, properties } };
}

function setUp() {
  const metrics = new RecordingMetrics();
  const hub = new Hub({ replaySize: 100, metrics });
  const clock = { now: 1_000 };
  const sink = new OpencodeSink(hub, new Mirror(), metrics, () => clock.now);
  const client = (directory = DIR) => {
    const stream = new FakeStream();
    hub.subscribe(new Subscriber(directory, undefined, stream.asStream(), 1 << 20));
    return stream;
  };
  /** What a client was told, `type sessionID`, once the hub has written it. */
  const said = (stream: FakeStream) => {
    hub.flush();
    return stream
      .frames()
      .slice(1)
      .map((frame) =>
        `${frame.json.type} ${(frame.json.properties as { sessionID?: string } | undefined)?.sessionID ?? ""}`.trim(),
      );
  };
  return { metrics, hub, sink, client, said, clock };
}

/** A text part of msg_1 in ses_1, under way or (with `end`) done. */
const part = (text: string, end?: number) => ({
  id: "prt_1",
  messageID: "msg_1",
  sessionID: "ses_1",
  type: "text",
  text,
  time: end === undefined ? { start: 1 } : { start: 1, end },
});

const info = (id: string, updated = 2) => ({ id, directory: DIR, title: id, time: { created: 1, updated } });

describe("the sink", () => {
  it("announces a session whose session.created was lost, before its first update", () => {
    const { sink, client, said, metrics } = setUp();
    sink.takeInHistory(DIR, { sessions: [info("ses_old")], baseline: true });
    const here = client(DIR);
    const there = client(OTHER);
    const updated = (id: string, directory = DIR) =>
      envelope("session.updated", { sessionID: id, info: info(id) }, "stream", directory);
    sink.publish(updated("ses_old")); // known from the first look: nothing to add
    sink.publish(updated("ses_new")); // created since, its creation never seen
    sink.publish(updated("ses_new"));
    sink.publish(updated("ses_elsewhere", OTHER)); // an instance nobody has looked at: no guessing
    expect(said(here)).toEqual([
      "session.updated ses_old",
      "session.created ses_new",
      "session.updated ses_new",
      "session.updated ses_new",
    ]);
    expect(said(there)).toEqual(["session.updated ses_elsewhere"]);
    expect(metrics.from("reconciler")).toEqual({ "session.created": 1 });
  });

  it("while the reconciler feeds clients, merges the stream: its deltas go out word by word, what a correction told is stale however long ago, a delta of an unknown part is held and asks for a read (issue 22)", () => {
    const { sink, client, said, metrics, clock } = setUp();
    const asked: string[] = [];
    sink.judgedBy({
      feeder: "reconciler",
      behindOn: () => false,
      unknownTold: (directory) => asked.push(directory),
    });
    const stream = client();
    const delta = (text: string, partID = "prt_1") =>
      envelope("message.part.delta", {
        sessionID: "ses_1",
        messageID: "msg_1",
        partID,
        field: "text",
        delta: text,
      });
    // The reconciler told the part as REST had it, under way; the stream's deltas go on from there.
    expect(
      sink.publish(envelope("message.part.updated", { sessionID: "ses_1", part: part("") }, "reconciler")),
    ).toBe("new");
    expect(sink.publish(delta("Hello"))).toBe("new");
    expect(sink.publish(delta(" there"))).toBe("new");
    // A delta of a part nobody was told of: held, and a read asked for.
    expect(sink.publish(delta("lost", "prt_2"))).toBe("held");
    expect(asked).toEqual([DIR]);
    // The part as it ended, told by the reconciler; the stream's copy a minute later is stale still.
    expect(
      sink.publish(
        envelope("message.part.updated", { sessionID: "ses_1", part: part("Hello there", 2) }, "reconciler"),
      ),
    ).toBe("new");
    clock.now += 60_000;
    expect(
      sink.publish(envelope("message.part.updated", { sessionID: "ses_1", part: part("Hello there", 2) })),
    ).toBe("stale");
    expect(sink.publish(delta("!"))).toBe("stale");
    expect(said(stream)).toEqual([
      "message.part.updated ses_1",
      "message.part.delta ses_1",
      "message.part.delta ses_1",
      "message.part.updated ses_1",
    ]);
    expect(metrics.dropped).toMatchObject({ held: 1, stale: 2 });
  });

  it("drops a late stream event about what a correction told — the same state, or an older one — and nothing else", () => {
    const { sink, client, said, metrics, clock } = setUp();
    const stream = client();
    const message = {
      id: "msg_1",
      sessionID: "ses_1",
      role: "assistant",
      time: { created: 1, completed: 3 },
    };
    // The stream told these itself, twice: both go out.
    sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "busy" } }));
    sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "busy" } }));
    // The reconciler made up for what the stream had not said…
    for (const [type, properties] of [
      ["session.updated", { sessionID: "ses_1", info: info("ses_1", 5) }],
      ["message.updated", { sessionID: "ses_1", info: message }],
      ["message.part.updated", { sessionID: "ses_1", part: part("done", 2), time: 5 }],
      ["session.status", { sessionID: "ses_1", status: { type: "idle" } }],
      ["session.idle", { sessionID: "ses_1" }],
    ] as const)
      expect(sink.publish(envelope(type, properties, "reconciler"))).toBe("new");
    // …then the stream, late, says what came before, and the same: dropped.
    clock.now += 2_000;
    for (const [type, properties] of [
      ["session.updated", { sessionID: "ses_1", info: info("ses_1", 4) }],
      ["message.updated", { sessionID: "ses_1", info: { ...message, time: { created: 1 } } }],
      ["message.part.updated", { sessionID: "ses_1", part: part(""), time: 1 }],
      [
        "message.part.delta",
        { sessionID: "ses_1", messageID: "msg_1", partID: "prt_1", field: "text", delta: "done" },
      ],
      ["message.part.updated", { sessionID: "ses_1", part: part("done", 2), time: 9 }],
      ["message.updated", { sessionID: "ses_1", info: { ...message } }],
      ["session.idle", { sessionID: "ses_1" }],
    ] as const)
      expect(sink.publish(envelope(type, properties)), type).toBe("stale");
    // What the stream says further on is news: the session updated since, the part grown since.
    expect(sink.publish(envelope("session.updated", { sessionID: "ses_1", info: info("ses_1", 6) }))).toBe(
      "new",
    );
    expect(
      sink.publish(envelope("message.part.updated", { sessionID: "ses_1", part: part("done!", 3) })),
    ).toBe("new");
    // Long after the correction, the stream's word is its own again.
    clock.now += 5_000;
    expect(sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "busy" } }))).toBe(
      "new",
    );
    expect(said(stream)).toEqual([
      "session.status ses_1",
      "session.status ses_1",
      "session.updated ses_1",
      "message.updated ses_1",
      "message.part.updated ses_1",
      "session.status ses_1",
      "session.idle ses_1",
      "session.updated ses_1",
      "message.part.updated ses_1",
      "session.status ses_1",
    ]);
    expect(metrics.dropped.stale).toBe(7);
  });

  it("tells the stream's finished part after a correction told it under way, though the deltas it carried since have a gap (a stall lost some)", () => {
    const { sink, client, said } = setUp();
    const stream = client();
    const delta = (text: string) =>
      envelope("message.part.delta", {
        sessionID: "ses_1",
        messageID: "msg_1",
        partID: "prt_1",
        field: "text",
        delta: text,
      });
    const message = { id: "msg_1", sessionID: "ses_1", role: "assistant", time: { created: 1 } };
    expect(sink.publish(envelope("message.updated", { sessionID: "ses_1", info: message }))).toBe("new");
    // While the stream was away, a read told the part as REST had it: no text yet.
    expect(
      sink.publish(envelope("message.part.updated", { sessionID: "ses_1", part: part("") }, "reconciler")),
    ).toBe("new");
    // The stream is back mid-reply: its deltas go on from where it is, the ones in between lost.
    expect(sink.publish(delta("w5"))).toBe("new");
    expect(sink.publish(delta(" w6"))).toBe("new");
    // The finished part, whole: news, not a text that contradicts what clients pieced together.
    expect(
      sink.publish(
        envelope("message.part.updated", { sessionID: "ses_1", part: part("w1 w2 w3 w4 w5 w6", 9) }),
      ),
    ).toBe("new");
    expect(said(stream).at(-1)).toBe("message.part.updated ses_1");
  });

  it("drops a late stream's busy, idle and session.idle of a turn whose end a correction told; a new turn's busy is news (issue 21, seed 42)", () => {
    const { sink, client, said, clock } = setUp();
    const stream = client();
    expect(sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "busy" } }))).toBe(
      "new",
    );
    for (const [type, properties] of [
      ["session.status", { sessionID: "ses_1", status: { type: "idle" } }],
      ["session.idle", { sessionID: "ses_1" }],
    ] as const)
      expect(sink.publish(envelope(type, properties, "reconciler"))).toBe("new");
    // The stream, 2.4 s late (still trusted), tells that turn's last busy, its idle and session.idle.
    clock.now += 300;
    for (const [type, properties] of [
      ["session.status", { sessionID: "ses_1", status: { type: "busy" } }],
      ["session.status", { sessionID: "ses_1", status: { type: "idle" } }],
      ["session.idle", { sessionID: "ses_1" }],
    ] as const)
      expect(sink.publish(envelope(type, properties)), type).toBe("stale");
    // A new turn: its question, then its busy, is news.
    clock.now += 100;
    const question = { id: "msg_9", sessionID: "ses_1", role: "user", time: { created: 1_400 } };
    expect(sink.publish(envelope("message.updated", { sessionID: "ses_1", info: question }))).toBe("new");
    expect(sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "busy" } }))).toBe(
      "new",
    );
    expect(said(stream)).toEqual([
      "session.status ses_1",
      "session.status ses_1",
      "session.idle ses_1",
      "message.updated ses_1",
      "session.status ses_1",
    ]);
  });

  it("keeps a late busy stale though the stream tells the turn's question again meanwhile (opencode re-sends it during the next turn)", () => {
    const { sink, client, said, clock } = setUp();
    const stream = client();
    const question = { id: "msg_1", sessionID: "ses_1", role: "user", time: { created: 900 } };
    sink.publish(envelope("message.updated", { sessionID: "ses_1", info: question }));
    sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "busy" } }));
    sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "idle" } }, "reconciler"));
    sink.publish(envelope("session.idle", { sessionID: "ses_1" }, "reconciler"));
    clock.now += 300;
    const again = { ...question, summary: { diffs: [] } };
    expect(sink.publish(envelope("message.updated", { sessionID: "ses_1", info: again }))).toBe("new");
    expect(sink.publish(envelope("session.status", { sessionID: "ses_1", status: { type: "busy" } }))).toBe(
      "stale",
    );
    expect(said(stream).filter((line) => line.startsWith("session."))).toEqual([
      "session.status ses_1",
      "session.status ses_1",
      "session.idle ses_1",
    ]);
  });

  it("tells a session.idle the stream lost before the next turn's busy, when it carried the idle status (issue 21, seed 42)", () => {
    const { sink, client, said } = setUp();
    const stream = client();
    const status = (type: string) => envelope("session.status", { sessionID: "ses_1", status: { type } });
    sink.publish(status("busy"));
    sink.publish(status("idle")); // its session.idle lost on the way
    const question = { id: "msg_2", sessionID: "ses_1", role: "user", time: { created: 1_000 } };
    sink.publish(envelope("message.updated", { sessionID: "ses_1", info: question }));
    sink.publish(status("busy"));
    sink.publish(status("busy")); // opencode says busy several times a turn: owed once
    expect(said(stream)).toEqual([
      "session.status ses_1",
      "session.status ses_1",
      "message.updated ses_1",
      "session.idle ses_1",
      "session.status ses_1",
      "session.status ses_1",
    ]);
  });

  it("tells an instance's disposal once, whoever tells it first, and again after a new disposing call", () => {
    const { sink, client, said } = setUp();
    const first = client();
    const disposal = (origin: EventOrigin) =>
      envelope("server.instance.disposed", { directory: DIR }, origin);
    sink.disposing(DIR);
    expect(sink.publish(disposal("proxy"))).toBe("new");
    expect(sink.publish(disposal("stream"))).toBe("duplicate");
    expect(said(first)).toEqual(["server.instance.disposed"]);
    const second = client();
    sink.disposing(DIR);
    expect(sink.publish(disposal("stream"))).toBe("new");
    expect(sink.publish(disposal("proxy"))).toBe("duplicate");
    expect(said(second)).toEqual(["server.instance.disposed"]);
  });

  it("counts an event seen before by its id as a duplicate", () => {
    const { sink, metrics } = setUp();
    const event = envelope("session.idle", { sessionID: "ses_1" });
    expect(sink.publish(event)).toBe("new");
    expect(sink.publish(event)).toBe("duplicate");
    expect(metrics.dropped.duplicate).toBe(1);
    expect(metrics.dropped.stale).toBe(0);
  });
});
