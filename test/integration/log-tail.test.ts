import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogTail, type LogTailOptions } from "../../src/sources/log/log-tail.js";

const OLDER = "2026-11-24T020000.log";
const NEWER = "2026-11-24T020100.log";
const NEWEST = "2026-11-24T020200.log";

/** Records what a tail emits; `until` resolves as soon as a condition holds, or fails with what was seen. */
class Recorder {
  readonly lines: string[] = [];
  readonly files: Array<string | undefined> = [];
  readonly problems: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(tail: LogTail) {
    tail.on("line", (line: string) => this.record(this.lines, line));
    tail.on("file", (file: string | undefined) => this.record(this.files, file));
    tail.on("problem", (message: string) => this.record(this.problems, message));
  }

  until(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const seen = JSON.stringify({ lines: this.lines, files: this.files, problems: this.problems });
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw ${seen}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for `count` lines in all, then they must be exactly `expected`. */
  async linesAre(expected: string[]): Promise<void> {
    await this.until(() => this.lines.length >= expected.length, `${expected.length} lines`);
    expect(this.lines).toEqual(expected);
  }

  private record<T>(list: T[], value: T): void {
    list.push(value);
    for (const waiter of this.waiters) waiter();
  }
}

let root: string;
let dir: string;
const tails: LogTail[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "log-tail-"));
  dir = join(root, "log");
  mkdirSync(dir);
});

afterEach(async () => {
  await Promise.all(tails.splice(0).map((tail) => tail.close()));
  rmSync(root, { recursive: true, force: true });
});

async function follow(options: Partial<LogTailOptions> = {}) {
  const tail = new LogTail({ dir, pollIntervalMs: 20, ...options });
  tails.push(tail);
  const recorder = new Recorder(tail);
  await tail.start();
  return { tail, recorder };
}

const file = (name: string) => join(dir, name);

describe.each([
  { mode: "fs.watch and poll", watch: true, pollIntervalMs: 50 },
  { mode: "poll alone", watch: false, pollIntervalMs: 20 },
])("LogTail with $mode", (options) => {
  const start = () => follow(options);

  it("skips what the newest file held at start and emits what is appended", async () => {
    writeFileSync(file(OLDER), "older 1\n");
    writeFileSync(file(NEWER), "old 1\nold 2\n");
    const { tail, recorder } = await start();
    expect(tail.file).toBe(file(NEWER));
    appendFileSync(file(NEWER), "new 1\n");
    await recorder.linesAre(["new 1"]);
    appendFileSync(file(NEWER), "new 2\n");
    appendFileSync(file(NEWER), "new 3\n");
    await recorder.linesAre(["new 1", "new 2", "new 3"]);
  });

  it("skips the rest of a line that was being written at start", async () => {
    writeFileSync(file(NEWER), "old\nhalf of an old li");
    const { recorder } = await start();
    appendFileSync(file(NEWER), "ne\nnew\n");
    await recorder.linesAre(["new"]);
  });

  it("joins a line written in two parts", async () => {
    writeFileSync(file(NEWER), "");
    const { recorder } = await start();
    // The first write ends mid-line; once "first" is out, the half line has been read.
    appendFileSync(file(NEWER), "first\nINFO  service=bus type=session.");
    await recorder.linesAre(["first"]);
    appendFileSync(file(NEWER), "idle publishing\n");
    await recorder.linesAre(["first", "INFO  service=bus type=session.idle publishing"]);
  });

  it("splits several lines written at once, dropping CR and empty lines", async () => {
    writeFileSync(file(NEWER), "");
    const { recorder } = await start();
    appendFileSync(file(NEWER), "one\ntwo\r\n\nthree\n");
    await recorder.linesAre(["one", "two", "three"]);
  });

  it("keeps multibyte UTF-8 characters that are split across writes", async () => {
    writeFileSync(file(NEWER), "");
    const { recorder } = await start();
    const text = "héllo 🚀 ✓ プロジェクト";
    const bytes = Buffer.from(`${text}\n`);
    const expected: string[] = [];
    for (let at = 1; at < bytes.length - 1; at++) {
      const marker = `split at ${at}`;
      appendFileSync(file(NEWER), Buffer.concat([Buffer.from(`${marker}\n`), bytes.subarray(0, at)]));
      expected.push(marker);
      await recorder.linesAre(expected);
      appendFileSync(file(NEWER), bytes.subarray(at));
      expected.push(text);
      await recorder.linesAre(expected);
    }
  });

  it("keeps lines in order through a burst of appends", async () => {
    writeFileSync(file(NEWER), "");
    const { recorder } = await start();
    const expected = Array.from({ length: 500 }, (_, i) => `line ${i} ${"x".repeat(i % 97)}`);
    for (const line of expected) appendFileSync(file(NEWER), `${line}\n`);
    await recorder.linesAre(expected);
  });

  it("moves to a newer file, reading it from its beginning after draining the old one", async () => {
    writeFileSync(file(OLDER), "old\n");
    const { tail, recorder } = await start();
    appendFileSync(file(OLDER), "last of the old process\n");
    writeFileSync(file(NEWER), "first of the new process\nsecond\n");
    await recorder.linesAre(["last of the old process", "first of the new process", "second"]);
    expect(tail.file).toBe(file(NEWER));
    appendFileSync(file(NEWER), "third\n");
    await recorder.linesAre(["last of the old process", "first of the new process", "second", "third"]);
    writeFileSync(file(NEWEST), "newest\n");
    await recorder.until(() => recorder.lines.at(-1) === "newest", "the newest file's line");
    expect(recorder.files).toEqual([file(OLDER), undefined, file(NEWER), undefined, file(NEWEST)]);
  });

  it("reads a truncated file again from its beginning", async () => {
    writeFileSync(file(NEWER), "");
    const { recorder } = await start();
    appendFileSync(file(NEWER), `${"a long line before truncation ".repeat(4)}\n`);
    await recorder.until(() => recorder.lines.length === 1, "the first line");
    truncateSync(file(NEWER), 0);
    appendFileSync(file(NEWER), "after\n");
    await recorder.until(() => recorder.lines.at(-1) === "after", "the line after truncation");
    expect(recorder.lines).toHaveLength(2);
  });

  it("lets go of a deleted file and reads one made again under its name from its beginning", async () => {
    writeFileSync(file(NEWER), "old\n");
    const { tail, recorder } = await start();
    unlinkSync(file(NEWER));
    await recorder.until(() => recorder.files.at(-1) === undefined && recorder.files.length > 1, "let go");
    expect(tail.file).toBeUndefined();
    writeFileSync(file(NEWER), "again 1\nagain 2\n");
    await recorder.linesAre(["again 1", "again 2"]);
  });

  it("reads a file that replaced the followed one (renamed over it) from its beginning", async () => {
    writeFileSync(file(NEWER), "old 1\nold 2\nold 3\n");
    const { recorder } = await start();
    appendFileSync(file(NEWER), "before\n");
    await recorder.linesAre(["before"]);
    writeFileSync(join(root, "next"), "replacement 1\nreplacement 2\nreplacement 3\nreplacement 4\n");
    renameSync(join(root, "next"), file(NEWER));
    await recorder.linesAre(["before", "replacement 1", "replacement 2", "replacement 3", "replacement 4"]);
  });

  it("falls back to an older file at its end when the newest is deleted", async () => {
    writeFileSync(file(OLDER), "history\n");
    writeFileSync(file(NEWER), "old\n");
    const { tail, recorder } = await start();
    unlinkSync(file(NEWER));
    await recorder.until(() => recorder.files.at(-1) === file(OLDER), "the older file");
    expect(tail.file).toBe(file(OLDER));
    appendFileSync(file(OLDER), "appended to the older\n");
    await recorder.linesAre(["appended to the older"]);
  });

  it("waits for a folder that does not exist yet, then reads its files from their beginning", async () => {
    rmSync(dir, { recursive: true });
    const { tail, recorder } = await start();
    expect(tail.file).toBeUndefined();
    mkdirSync(dir);
    writeFileSync(file(NEWER), "first\n");
    await recorder.linesAre(["first"]);
    appendFileSync(file(NEWER), "second\n");
    await recorder.linesAre(["first", "second"]);
    expect(recorder.problems).toEqual([]);
  });

  it("follows a folder that is deleted and made again", async () => {
    writeFileSync(file(NEWER), "old\n");
    const { recorder } = await start();
    rmSync(dir, { recursive: true });
    await recorder.until(() => recorder.files.at(-1) === undefined && recorder.files.length > 1, "let go");
    mkdirSync(dir);
    writeFileSync(file(NEWEST), "in the new folder\n");
    await recorder.linesAre(["in the new folder"]);
    appendFileSync(file(NEWEST), "more\n");
    await recorder.linesAre(["in the new folder", "more"]);
  });

  it("follows a log named without a time by modification time", async () => {
    writeFileSync(file("dev.log"), "old\n");
    writeFileSync(file("notes.txt"), "not a log\n");
    const { tail, recorder } = await start();
    expect(tail.file).toBe(file("dev.log"));
    appendFileSync(file("dev.log"), "dev line\n");
    await recorder.linesAre(["dev line"]);
  });
});

describe("LogTail", () => {
  it("emits an appended line quickly through fs.watch, without waiting for the poll", async () => {
    writeFileSync(file(NEWER), "");
    const { recorder } = await follow({ pollIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      appendFileSync(file(NEWER), `line ${i}\n`);
      await recorder.until(() => recorder.lines.length === i + 1, `line ${i}`, 2_000);
      expect(performance.now() - started).toBeLessThan(1_000);
    }
  });

  it("leaves no timer or watcher behind and emits nothing after close()", async () => {
    writeFileSync(file(NEWER), "");
    const count = () =>
      process.getActiveResourcesInfo().filter((name) => name === "Timeout" || name === "FSEventWrap").length;
    const before = count();
    const tail = new LogTail({ dir, pollIntervalMs: 20 });
    const recorder = new Recorder(tail);
    await tail.start();
    expect(count()).toBe(before + 2);
    await tail.close();
    expect(count()).toBe(before);
    expect(tail.file).toBeUndefined();

    // A second tail sees the line; the closed one, polling just as often, must not.
    const { recorder: witness } = await follow();
    appendFileSync(file(NEWER), "after close\n");
    await witness.linesAre(["after close"]);
    appendFileSync(file(NEWER), "and again\n");
    await witness.linesAre(["after close", "and again"]);
    expect(recorder.lines).toEqual([]);
    await tail.close();
  });

  it("ignores a dangling link that sorts newest until a real file turns up", async () => {
    writeFileSync(file(OLDER), "old\n");
    symlinkSync(join(root, "nowhere"), file(NEWEST));
    const { tail, recorder } = await follow();
    expect(tail.file).toBeUndefined();
    writeFileSync(join(root, "nowhere"), "now it points somewhere\n");
    await recorder.linesAre(["now it points somewhere"]);
    expect(recorder.problems).toEqual([]);
  });

  it("can be closed before it starts, twice, and does not start after", async () => {
    const tail = new LogTail({ dir });
    await tail.close();
    await tail.close();
    await tail.start();
    expect(tail.file).toBeUndefined();
  });

  it("reports a folder it cannot read once and recovers when it can", async () => {
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "a file where the folder should be");
    const tail = new LogTail({ dir, pollIntervalMs: 10 });
    tails.push(tail);
    const recorder = new Recorder(tail);
    await tail.start();
    await recorder.until(() => recorder.problems.length === 1, "a problem");
    expect(recorder.problems[0]).toMatch(/ENOTDIR/);
    rmSync(dir);
    mkdirSync(dir);
    writeFileSync(file(NEWER), "recovered\n");
    await recorder.linesAre(["recovered"]);
    expect(recorder.problems).toHaveLength(1);
  });

  it("reports a throwing listener once and keeps emitting", async () => {
    writeFileSync(file(NEWER), "");
    const { tail, recorder } = await follow();
    tail.on("line", (line: string) => {
      if (line.startsWith("bad")) throw new Error("listener broke");
    });
    appendFileSync(file(NEWER), "bad 1\ngood 1\nbad 2\ngood 2\n");
    await recorder.linesAre(["bad 1", "good 1", "bad 2", "good 2"]);
    expect(recorder.problems).toEqual(['a "line" listener threw: listener broke']);
  });

  it("skips a line longer than maxLineLength and reports it once", async () => {
    writeFileSync(file(NEWER), "");
    const { recorder } = await follow({ maxLineLength: 100 });
    appendFileSync(file(NEWER), `short\n${"x".repeat(150)}`);
    await recorder.until(() => recorder.problems.length === 1, "a problem");
    appendFileSync(file(NEWER), `${"y".repeat(150)}\nafter\n${"z".repeat(300)}\nlast\n`);
    await recorder.linesAre(["short", "after", "last"]);
    expect(recorder.problems).toHaveLength(1);
    expect(recorder.problems[0]).toMatch(/longer than 100 characters/);
  });
});
