import { describe, expect, it } from "vitest";
import { lineageOf } from "../../src/opencode/events.js";
import { Mirror } from "../../src/opencode/mirror.js";

const DIR = "/work/project";
let seq = 0;
const session = (id: string, parentID?: string) => ({ id, parentID, time: { created: 1, updated: 1 } });
function apply(mirror: Mirror, type: string, properties: Record<string, unknown>) {
  mirror.apply({ directory: DIR, payload: { type, properties }, seq: ++seq });
}

describe("lineageOf: whom an event is about, up the subagents' chain", () => {
  it("is the event's session, then its parent, grandparent…, as the sessions' infos told them", () => {
    const mirror = new Mirror();
    mirror.takeInHistory(DIR, { sessions: [session("ses_root"), session("ses_child", "ses_root")] });
    apply(mirror, "session.created", { sessionID: "ses_grand", info: session("ses_grand", "ses_child") });
    const view = mirror.instance(DIR);
    const delta = { type: "message.part.delta", properties: { sessionID: "ses_grand", partID: "prt_1" } };
    expect(lineageOf(view, delta)).toEqual(["ses_grand", "ses_child", "ses_root"]);
    const part = {
      type: "message.part.updated",
      properties: { part: { id: "prt_1", sessionID: "ses_child" } },
    };
    expect(lineageOf(view, part)).toEqual(["ses_child", "ses_root"]);
    // A message's info.parentID is the message it answers, not a session.
    const message = {
      type: "message.updated",
      properties: { info: { id: "msg_2", sessionID: "ses_root", parentID: "msg_1" } },
    };
    expect(lineageOf(view, message)).toEqual(["ses_root"]);
    expect(lineageOf(view, { type: "file.edited", properties: { file: "a.ts" } })).toEqual([]);
  });

  it("takes a new child's parent from its own session.created, before anyone was told of it", () => {
    const view = new Mirror().instance(DIR);
    const created = { type: "session.created", properties: { info: session("ses_new", "ses_root") } };
    expect(lineageOf(view, created)).toEqual(["ses_new", "ses_root"]);
  });

  it("keeps a deleted session's place in the chain, and stops at a cycle", () => {
    const mirror = new Mirror();
    mirror.takeInHistory(DIR, { sessions: [session("ses_root"), session("ses_child", "ses_root")] });
    apply(mirror, "session.deleted", { sessionID: "ses_child", info: session("ses_child", "ses_root") });
    const view = mirror.instance(DIR);
    expect(lineageOf(view, { type: "session.idle", properties: { sessionID: "ses_child" } })).toEqual([
      "ses_child",
      "ses_root",
    ]);
    mirror.takeInHistory(DIR, { sessions: [session("ses_a", "ses_b"), session("ses_b", "ses_a")] });
    expect(
      lineageOf(mirror.instance(DIR), { type: "session.idle", properties: { sessionID: "ses_a" } }),
    ).toEqual(["ses_a", "ses_b"]);
  });
});
