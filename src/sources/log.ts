import type { FastifyBaseLogger } from "fastify";
import { parseLogLine } from "./log-line.js";
import { LogTail } from "./log-tail.js";
import type { Reconciler } from "./poll.js";

/** Published for every streamed token: the busy-session polling covers those already. */
const TOO_FREQUENT = new Set(["message.part.delta"]);

/**
 * The log source: follows opencode's log folder and turns every line that says
 * something changed into an immediate read by the reconciler, so polling reacts in
 * milliseconds instead of one interval. Behind a live global stream it stays quiet.
 */
export class LogSource {
  private readonly tail: LogTail;

  constructor(dir: string, reconciler: Reconciler, log: FastifyBaseLogger) {
    this.tail = new LogTail({ dir });
    this.tail.on("line", (line: string) => {
      if (reconciler.currentPace !== "fast") return;
      const hint = parseLogLine(line);
      if (!hint || (hint.busType && TOO_FREQUENT.has(hint.busType))) return;
      reconciler.nudge(hint.sessionID);
    });
    this.tail.on("file", (file: string | undefined) => {
      if (file) log.info({ file }, "following opencode's log");
    });
    this.tail.on("problem", (message: string) =>
      log.warn({ dir, reason: message }, "cannot follow opencode's log"),
    );
  }

  start(): Promise<void> {
    return this.tail.start();
  }

  close(): Promise<void> {
    return this.tail.close();
  }
}
