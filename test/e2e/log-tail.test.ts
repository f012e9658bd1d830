import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { type LogHint, parseLogLine } from "../../src/sources/log/log-line.js";
import { LogTail } from "../../src/sources/log/log-tail.js";
import { e2eSetup } from "../helpers/e2e.js";

/** The log source's input, from the real binary: a prompt shows up as hints naming its session. */
describe("LogTail on opencode 1.14.48's own log", () => {
  const e2e = e2eSetup({ version: "1.14.48" });
  let tail: LogTail;
  const lines: string[] = [];
  const hints: LogHint[] = [];
  const problems: string[] = [];
  const waiters = new Set<() => void>();

  beforeAll(async () => {
    tail = new LogTail({ dir: e2e.opencode.logDir });
    tail.on("line", (line: string) => {
      lines.push(line);
      const hint = parseLogLine(line);
      if (hint) hints.push(hint);
      for (const waiter of waiters) waiter();
    });
    tail.on("problem", (message: string) => problems.push(message));
    await tail.start();
  });

  afterAll(async () => {
    await tail?.close();
  });

  function untilHint(predicate: (hint: LogHint) => boolean, what: string, timeoutMs = 30_000) {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!hints.some(predicate)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `no ${what} within ${timeoutMs} ms; lines:\n${lines.join("\n")}\n${e2e.opencode.output()}`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  it("follows the server's log file from its end", () => {
    expect(tail.file?.startsWith(e2e.opencode.logDir)).toBe(true);
    expect(tail.file).toMatch(/\/\d{4}-\d{2}-\d{2}T\d{6}\.log$/);
    // The first line of the file, written at startup, is history.
    expect(lines.some((line) => line.includes("service=default version=1.14.48"))).toBe(false);
  });

  it("emits hints naming the session and its bus events for a prompt", async () => {
    const session = await createSession(e2e.opencode.url);
    /** A hint naming the session came from a line of `service`. */
    const hintFrom = (service: string) => () =>
      lines.some(
        (line) => line.includes(` service=${service} `) && parseLogLine(line)?.sessionID === session.id,
      );
    await untilHint(hintFrom("session"), "session created hint");
    await prompt(e2e.opencode.url, session.id, "say hello");
    await untilHint(hintFrom("session.prompt"), "session.prompt hint");
    await untilHint((hint) => hint.busType === "session.idle", "session.idle hint");

    const busTypes = new Set(hints.map((hint) => hint.busType).filter(Boolean));
    for (const type of ["session.created", "session.status", "message.updated", "message.part.updated"]) {
      expect(busTypes, type).toContain(type);
    }
    // Bus lines name no session in 1.14.48; every session id seen is this one.
    const sessionIDs = new Set(hints.map((hint) => hint.sessionID).filter(Boolean));
    expect([...sessionIDs]).toEqual([session.id]);
    expect(problems).toEqual([]);
  });
});
