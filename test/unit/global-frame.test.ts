import { describe, expect, it } from "vitest";
import { readGlobalFrame } from "../../src/sources/global-frame.js";

describe("readGlobalFrame", () => {
  it("reads an instance event with its directory, project and workspace", () => {
    const payload = { id: "evt_1", type: "session.idle", properties: { sessionID: "ses_1" } };
    const frame = readGlobalFrame(
      JSON.stringify({ directory: "/p", project: "prj", workspace: "wrk", payload }),
    );
    expect(frame).toEqual({
      kind: "event",
      envelope: { directory: "/p", project: "prj", workspace: "wrk", payload },
    });
  });

  it("recognises the global stream's own frames, which have no directory", () => {
    const frame = readGlobalFrame(
      JSON.stringify({ payload: { id: "evt_2", type: "server.heartbeat", properties: {} } }),
    );
    expect(frame).toEqual({ kind: "server", type: "server.heartbeat" });
  });

  it("recognises sync wrappers (their plain twin carries the event)", () => {
    const wrapper = {
      directory: "/p",
      payload: { type: "sync", syncEvent: { type: "message.updated.1", id: "evt_3", seq: 0 }, id: "evt_3" },
    };
    expect(readGlobalFrame(JSON.stringify(wrapper))).toEqual({ kind: "sync" });
  });

  it("keeps the process-wide events under directory 'global'", () => {
    const payload = { type: "project.updated", properties: { id: "prj" }, id: "evt_4" };
    const frame = readGlobalFrame(JSON.stringify({ directory: "global", project: "prj", payload }));
    expect(frame.kind === "event" && frame.envelope.directory).toBe("global");
  });

  it.each([
    ["not JSON", "{nope"],
    ["not an object", "[1,2]"],
    ["null", "null"],
    ["no payload", JSON.stringify({ directory: "/p" })],
    ["payload without type", JSON.stringify({ directory: "/p", payload: { id: "x" } })],
    ["empty type", JSON.stringify({ directory: "/p", payload: { type: "" } })],
    ["numeric id", JSON.stringify({ directory: "/p", payload: { type: "a", id: 5 } })],
    ["numeric directory", JSON.stringify({ directory: 5, payload: { type: "a" } })],
    ["empty directory", JSON.stringify({ directory: "", payload: { type: "a" } })],
  ])("rejects a frame that is %s", (_what, data) => {
    expect(readGlobalFrame(data).kind).toBe("invalid");
  });
});
