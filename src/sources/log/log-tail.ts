import { EventEmitter } from "node:events";
import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { describeError } from "../../errors.js";

export interface LogTailOptions {
  /** opencode's log folder ($XDG_DATA_HOME/opencode/log); it need not exist yet. */
  dir: string;
  /** The folder is checked this often whatever fs.watch reports (it misses events). */
  pollIntervalMs?: number;
  /** fs.watch for low latency; off leaves the poll alone. */
  watch?: boolean;
  /** A longer line is skipped rather than buffered without end. */
  maxLineLength?: number;
}

interface Followed {
  name: string;
  path: string;
  handle: FileHandle;
  ino: number;
  position: number;
}

/** Each opencode process logs to a file named for its start (`2026-11-24T031527.log`): names sort by age. */
const STAMPED = /^\d{4}-\d{2}-\d{2}T\d{6}\.log$/;
const READ_CHUNK = 64 * 1024;

const isMissing = (error: unknown) => (error as { code?: unknown }).code === "ENOENT";

/**
 * Follows the newest `*.log` in opencode's log folder and emits each new complete line.
 *
 * Files there at start are history: they are read from their end. A file that turns up
 * later (a new opencode process) is read from its beginning, and the old one is drained
 * first. A file that shrinks is read again from 0; one that is deleted or replaced is let
 * go and the newest is picked again.
 *
 * The open file is kept open, so its inode cannot be reused by a file that replaces it.
 *
 * Events: `line` (line: string, without its newline; empty lines are skipped), `file`
 * (path: string | undefined, whenever the followed file changes) and `problem`
 * (message: string, each distinct one once). Never `error`: nothing is thrown from timers.
 */
export class LogTail extends EventEmitter {
  private readonly dir: string;
  private readonly pollIntervalMs: number;
  private readonly useWatch: boolean;
  private readonly maxLineLength: number;
  private readonly buffer = Buffer.allocUnsafe(READ_CHUNK);
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  /** The inode of the folder `watcher` watches; a folder deleted and made again needs a new watcher. */
  private watchedIno: number | undefined;
  private followed: Followed | undefined;
  private previousName: string | undefined;
  private decoder = new StringDecoder("utf8");
  private partial = "";
  /** Set when reading starts inside a line whose beginning was not read. */
  private skipToNewline = false;
  private scanned = false;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(options: LogTailOptions) {
    super();
    this.dir = options.dir;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.useWatch = options.watch ?? true;
    this.maxLineLength = options.maxLineLength ?? 1024 * 1024;
  }

  /** The file being followed, if any. */
  get file(): string | undefined {
    return this.followed?.path;
  }

  /** Starts following; resolves once the folder has been looked at (lines already there are skipped). */
  async start(): Promise<void> {
    if (this.closed) return;
    if (!this.timer) this.timer = setInterval(() => this.kick(), this.pollIntervalMs);
    this.kick();
    await this.running;
  }

  /** Stops the timer and the watcher and lets go of the file; no event follows. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    this.watcher?.close();
    this.watcher = undefined;
    const followed = this.followed;
    this.followed = undefined;
    await followed?.handle.close().catch(() => {});
  }

  /** Runs a check, or one more after the running one: a burst of changes costs one extra read. */
  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.checkUntilSettled();
  }

  private async checkUntilSettled(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.check();
      } catch (error) {
        this.problem(`reading opencode's log in ${this.dir} failed: ${describeError(error)}`);
      }
    } while (this.again && !this.closed);
    this.running = undefined;
  }

  private async check(): Promise<void> {
    // Only what the first look finds is history; after a failed first look, everything is news.
    const atStart = !this.scanned;
    this.scanned = true;
    await this.watchFolder();
    const newest = await this.newestLog();
    if (this.closed) return;
    if (this.followed && this.followed.name !== newest) {
      await this.readAppended(this.followed);
      await this.release();
    }
    if (this.followed) await this.readFollowed(this.followed);
    if (!this.followed && newest && !this.closed) {
      const older = this.previousName !== undefined && isOlder(newest, this.previousName);
      await this.follow(newest, atStart || older);
      if (this.followed) await this.readFollowed(this.followed);
    }
  }

  private async watchFolder(): Promise<void> {
    if (!this.useWatch) return;
    const ino = await stat(this.dir).then(
      (info) => info.ino,
      (error: unknown) => {
        if (isMissing(error)) return undefined;
        throw error;
      },
    );
    if (ino === this.watchedIno || this.closed) return;
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedIno = ino;
    if (ino === undefined) return;
    try {
      const watcher = watch(this.dir, () => this.kick());
      watcher.on("error", () => {
        watcher.close();
        if (this.watcher !== watcher) return;
        this.watcher = undefined;
        this.watchedIno = undefined;
        this.kick();
      });
      this.watcher = watcher;
    } catch (error) {
      // The folder went away between stat and watch: the next check tries again.
      if (isMissing(error)) this.watchedIno = undefined;
      else this.problem(`cannot watch ${this.dir} (${describeError(error)}); polling only`);
    }
  }

  /** The newest log by name, or by modification time for names that carry no time (a dev build's `dev.log`). */
  private async newestLog(): Promise<string | undefined> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((name) => name.endsWith(".log"));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const stamped = names.filter((name) => STAMPED.test(name)).sort();
    if (stamped.length > 0) return stamped.at(-1);
    let newest: string | undefined;
    let newestTime = Number.NEGATIVE_INFINITY;
    for (const name of names) {
      const info = await stat(join(this.dir, name)).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs > newestTime) {
        newest = name;
        newestTime = info.mtimeMs;
      }
    }
    return newest;
  }

  private async follow(name: string, fromEnd: boolean): Promise<void> {
    const path = join(this.dir, name);
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      // Gone since the folder was read (or a dangling link): the next watch event or poll looks again.
      if (!isMissing(error)) throw error;
      return;
    }
    let ino: number;
    let position = 0;
    try {
      const info = await handle.stat();
      ino = info.ino;
      if (fromEnd && info.size > 0) {
        position = info.size;
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, info.size - 1);
        this.skipToNewline = last[0] !== 0x0a;
      }
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await handle.close().catch(() => {});
      return;
    }
    this.followed = { name, path, handle, ino, position };
    this.previousName = name;
    this.emit("file", path);
  }

  /** Reads what was appended, then lets go of the file if its name is gone or names another file now. */
  private async readFollowed(followed: Followed): Promise<void> {
    const onDisk = await stat(followed.path).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    await this.readAppended(followed);
    if (onDisk?.ino !== followed.ino) await this.release();
  }

  private async readAppended(followed: Followed): Promise<void> {
    const { size } = await followed.handle.stat();
    if (size < followed.position) {
      followed.position = 0;
      this.resetLine();
    }
    while (!this.closed) {
      const { bytesRead } = await followed.handle.read(this.buffer, 0, READ_CHUNK, followed.position);
      if (bytesRead === 0) return;
      followed.position += bytesRead;
      this.feed(this.buffer.subarray(0, bytesRead), followed.path);
    }
  }

  private async release(): Promise<void> {
    const followed = this.followed;
    if (!followed) return;
    this.followed = undefined;
    this.resetLine();
    await followed.handle.close().catch(() => {});
    if (!this.closed) this.emit("file", undefined);
  }

  private feed(bytes: Buffer, path: string): void {
    const text = this.partial + this.decoder.write(bytes);
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      const line = text.slice(start, end);
      start = end + 1;
      if (this.skipToNewline) this.skipToNewline = false;
      else if (line.length > this.maxLineLength) this.tooLong(path);
      else this.emitLine(line.endsWith("\r") ? line.slice(0, -1) : line);
    }
    this.partial = text.slice(start);
    if (this.partial.length > this.maxLineLength) {
      this.partial = "";
      this.skipToNewline = true;
      this.tooLong(path);
    }
  }

  private tooLong(path: string): void {
    this.problem(`skipped a line of ${path} longer than ${this.maxLineLength} characters`);
  }

  private emitLine(line: string): void {
    if (line === "" || this.closed) return;
    try {
      this.emit("line", line);
    } catch (error) {
      this.problem(`a "line" listener threw: ${describeError(error)}`);
    }
  }

  private resetLine(): void {
    this.decoder = new StringDecoder("utf8");
    this.partial = "";
    this.skipToNewline = false;
  }

  /** Reports each distinct problem once; a broken folder would otherwise say so four times a second. */
  private problem(message: string): void {
    if (this.closed || this.reported.has(message)) return;
    this.reported.add(message);
    try {
      this.emit("problem", message);
    } catch {}
  }
}

/** True when both names carry their start time and `name`'s is earlier. */
function isOlder(name: string, than: string): boolean {
  return STAMPED.test(name) && STAMPED.test(than) && name < than;
}
