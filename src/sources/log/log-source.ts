import type { FastifyBaseLogger } from "fastify";
import { type LogHint, parseLogLine } from "./log-line.js";
import { LogTail } from "./log-tail.js";

/**
 * The log source: follows opencode's log folder and tells `onHint` of every line that
 * says something changed upstream — a bus event published, or a session named — so the
 * shim can look at REST at once instead of one interval later, and check the stream
 * carried what was published.
 */
export class LogSource {
  private readonly tail: LogTail;

  constructor(dir: string, onHint: (hint: LogHint) => void, log: FastifyBaseLogger) {
    this.tail = new LogTail({ dir });
    this.tail.on("line", (line: string) => {
      const hint = parseLogLine(line);
      if (hint) onHint(hint);
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
