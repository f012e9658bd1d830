import { describe, expect, it } from "vitest";
import { parseLogLine } from "../../src/sources/log/log-line.js";

// Real lines from opencode 1.14.48 (`opencode serve`, a prompt, a permission, a question,
// an abort), temp paths shortened.
const SESSION = "ses_df472d95affeu6HDix0gbsAKpC";
const REAL = {
  created: `INFO  2026-11-24T03:15:29 +90ms service=session id=${SESSION} slug=jolly-harbor version=1.14.48 projectID=dd663d40aef4609ca02b21e95e4126e9096673f4 directory=/tmp/oc/project path= title=New session - 2026-11-24T03:15:29.573Z time={"created":1795490129573,"updated":1795490129573} created`,
  sessionCreated: "INFO  2026-11-24T03:15:29 +14ms service=bus type=session.created publishing",
  status: "INFO  2026-11-24T03:15:29 +15ms service=bus type=session.status publishing",
  loop: `INFO  2026-11-24T03:15:29 +0ms service=session.prompt session.id=${SESSION} step=0 loop`,
  llm: `INFO  2026-11-24T03:15:30 +1ms service=llm providerID=offline modelID=scripted session.id=${SESSION} small=false agent=build mode=primary stream`,
  processor: `INFO  2026-11-24T03:15:30 +13ms service=session.processor session.id=${SESSION} messageID=msg_20b8d2958001wUEMMZZ6WgPLks process`,
  delta: "INFO  2026-11-24T03:15:30 +1ms service=bus type=message.part.delta publishing",
  exiting: `INFO  2026-11-24T03:15:31 +2ms service=session.prompt session.id=${SESSION} exiting loop`,
  idle: "INFO  2026-11-24T03:15:31 +1ms service=bus type=session.idle publishing",
  aborted: `ERROR 2026-11-24T03:17:23 +7ms service=session.processor session.id=${SESSION} messageID=msg_20b8eddab001YEmZpXhCoe7So7 error=Aborted process`,
  sessionError: "INFO  2026-11-24T03:17:23 +0ms service=bus type=session.error publishing",
  deleted: "INFO  2026-11-24T03:15:52 +28ms service=bus type=session.deleted publishing",
  permissionEvaluated:
    'INFO  2026-11-24T03:15:50 +417ms service=permission permission=bash pattern=echo hi action={"permission":"bash","action":"ask","pattern":"*"} evaluated',
  permissionAsking:
    'INFO  2026-11-24T03:15:50 +3ms service=permission id=per_20b8d794b001q6hpCVxjLO62U5 permission=bash patterns=["echo hi"] asking',
  permissionAsked: "INFO  2026-11-24T03:15:50 +3ms service=bus type=permission.asked publishing",
  questionAsking:
    "INFO  2026-11-24T03:17:19 +21ms service=question id=que_20b8ed579001uyzw7VnISGeovi questions=1 asking",
  questionReplied: "INFO  2026-11-24T03:17:19 +0ms service=bus type=question.replied publishing",
  subscribing: "INFO  2026-11-24T03:15:29 +1ms service=bus type=session.updated subscribing",
  subscribingAll: "INFO  2026-11-24T03:15:32 +1377ms service=bus type=* subscribing",
  unsubscribing: "INFO  2026-11-24T03:15:32 +216ms service=bus type=* unsubscribing",
  eventConnected: "INFO  2026-11-24T03:15:32 +0ms service=server event connected",
  eventDisconnected: "INFO  2026-11-24T03:15:32 +1ms service=server event disconnected",
  globalConnected: "INFO  2026-11-24T03:15:47 +508ms service=server global event connected",
  start:
    'INFO  2026-11-24T03:15:27 +923ms service=default version=1.14.48 args=["serve","--hostname","127.0.0.1","--port","0"] process_role=main run_id=a80c5463-2535-4f36-b986-44c91276eac9 opencode',
  instance: "INFO  2026-11-24T03:15:28 +325ms service=default creating instance [object Object]",
  resolveTools: "INFO  2026-11-24T03:15:30 +2ms service=session.prompt status=started resolveTools",
  snapshot:
    "INFO  2026-11-24T03:15:30 +116ms service=snapshot hash=4b825dc642cb6eb9a060e54bf8d69288fbee4904 cwd=/tmp/oc/project git=/tmp/oc/data/opencode/snapshot/dd66/0219 tracking",
};

describe("parseLogLine", () => {
  it.each([
    ["sessionCreated", "session.created"],
    ["status", "session.status"],
    ["delta", "message.part.delta"],
    ["idle", "session.idle"],
    ["sessionError", "session.error"],
    ["deleted", "session.deleted"],
    ["permissionAsked", "permission.asked"],
    ["questionReplied", "question.replied"],
  ] as const)("a bus publish (%s) gives its type and no session", (name, busType) => {
    expect(parseLogLine(REAL[name])).toEqual({ busType });
  });

  it.each(["created", "loop", "llm", "processor", "exiting", "aborted"] as const)(
    "a line naming a session (%s) gives the session id",
    (name) => {
      expect(parseLogLine(REAL[name])).toEqual({ sessionID: SESSION });
    },
  );

  it.each([
    "permissionEvaluated",
    "permissionAsking",
    "questionAsking",
    "subscribing",
    "subscribingAll",
    "unsubscribing",
    "eventConnected",
    "eventDisconnected",
    "globalConnected",
    "start",
    "instance",
    "resolveTools",
    "snapshot",
  ] as const)("a line about no state change (%s) gives nothing", (name) => {
    expect(parseLogLine(REAL[name])).toBeUndefined();
  });

  it("ignores heartbeat and connected publishes", () => {
    expect(
      parseLogLine("INFO  2026-11-24T03:15:40 +10000ms service=bus type=server.heartbeat publishing"),
    ).toBeUndefined();
    expect(
      parseLogLine("INFO  2026-11-24T03:15:40 +0ms service=bus type=server.connected publishing"),
    ).toBeUndefined();
  });

  it("accepts a trailing carriage return or spaces", () => {
    expect(parseLogLine(`${REAL.idle}\r`)).toEqual({ busType: "session.idle" });
    expect(parseLogLine(`${REAL.loop}  `)).toEqual({ sessionID: SESSION });
  });

  it("takes a publishing line only from the bus, and only as the line's last word", () => {
    expect(parseLogLine("INFO  2026-11-24T03:15:29 +1ms service=share type=x publishing")).toBeUndefined();
    expect(
      parseLogLine("INFO  2026-11-24T03:15:29 +1ms service=bus type=session.idle publishing later"),
    ).toBeUndefined();
  });

  it("does not take ses_ inside a path or a word for a session id", () => {
    expect(
      parseLogLine(
        "INFO  2026-11-24T03:15:28 +3ms service=project directory=/home/me/ses_0123456789abcdefXYZ fromDirectory",
      ),
    ).toBeUndefined();
    expect(
      parseLogLine("INFO  2026-11-24T03:15:28 +3ms service=x note=notses_0123456789abcdefXYZ"),
    ).toBeUndefined();
    expect(parseLogLine("INFO  2026-11-24T03:15:28 +3ms service=x id=ses_short")).toBeUndefined();
  });

  it("finds a session id under any key, and the first of several", () => {
    const other = "ses_df4713815ffe8mW3DQ0TyNqX7x";
    expect(
      parseLogLine(`WARN  2026-11-24T03:15:28 +3ms service=x sessionID=${SESSION} parentID=${other} y`),
    ).toEqual({ sessionID: SESSION });
  });

  it("keeps the session id of a bus line that names one", () => {
    expect(
      parseLogLine(
        `INFO  2026-11-24T03:15:29 +1ms service=bus type=session.idle sessionID=${SESSION} publishing`,
      ),
    ).toEqual({ busType: "session.idle", sessionID: SESSION });
  });

  it("gives nothing for empty or foreign text", () => {
    expect(parseLogLine("")).toBeUndefined();
    expect(parseLogLine("    at Object.<anonymous> (/snapshot/opencode/src/index.ts:1:1)")).toBeUndefined();
  });
});
