import { type ChildProcess, spawn } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";
import type { FastifyBaseLogger } from "fastify";
import { messageOf } from "../errors.js";

export interface EmbeddedOptions {
  bin: string;
  /** More arguments for `opencode serve`. */
  args: string[];
  env: NodeJS.ProcessEnv;
  log: FastifyBaseLogger;
}

const LISTENING = /listening on (http:\/\/\S+)/;
const RESTART_BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];
/** How long opencode may take to say where it listens. */
const START_TIMEOUT_MS = 60_000;

/**
 * The opencode the shim runs itself when it is given no `--upstream`: `opencode serve
 * --hostname 127.0.0.1 --port 0`, its address read from what it prints, restarted on
 * the same port if it dies, stopped with the shim.
 */
export class EmbeddedOpencode {
  private child: ChildProcess | undefined;
  private port = 0;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** What opencode printed last, for an error message when it will not start. */
  private tail: string[] = [];

  constructor(private readonly options: EmbeddedOptions) {}

  /** opencode's log folder; none when it logs to stderr (`--print-logs`). */
  get logDir(): string | undefined {
    if (this.options.args.includes("--print-logs")) return undefined;
    const data =
      this.options.env.XDG_DATA_HOME || join(this.options.env.HOME || homedir(), ".local", "share");
    return join(data, "opencode", "log");
  }

  /** Starts opencode; resolves with its URL. */
  async start(): Promise<URL> {
    const url = await this.launch();
    this.port = Number(url.port);
    return url;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(killer);
  }

  /** Last resort, when the shim must exit now: SIGKILL, no waiting. */
  killNow(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    if (this.child && this.child.exitCode === null && this.child.signalCode === null)
      this.child.kill("SIGKILL");
  }

  private launch(): Promise<URL> {
    const args = ["serve", "--hostname", "127.0.0.1", "--port", String(this.port), ...this.options.args];
    const child = spawn(this.options.bin, args, { env: this.options.env, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.tail = [];
    const remember = (text: string) => {
      for (const line of text.split("\n")) if (line.trim()) this.tail.push(line.trim());
      this.tail = this.tail.slice(-5);
    };
    child.stderr?.setEncoding("utf8").on("data", remember);
    return new Promise<URL>((resolve, reject) => {
      let printed = "";
      const timer = setTimeout(() => {
        reject(new Error(`opencode did not start within ${START_TIMEOUT_MS} ms`));
        child.kill("SIGKILL");
      }, START_TIMEOUT_MS);
      child.stdout?.setEncoding("utf8").on("data", (text: string) => {
        remember(text);
        printed += text;
        const match = LISTENING.exec(printed);
        if (!match?.[1]) return;
        clearTimeout(timer);
        printed = "";
        this.restarts = 0;
        this.options.log.info({ opencodePid: child.pid, url: match[1] }, "opencode started");
        resolve(new URL(match[1]));
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${this.options.bin}: ${error.message}`));
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        const reason = `opencode exited (${signal ?? `code ${code}`})`;
        reject(
          new Error(`${reason} before it listened${this.tail.length ? `: ${this.tail.join(" | ")}` : ""}`),
        );
        if (this.child === child && !this.stopping && this.port !== 0) this.restartLater(reason);
      });
    });
  }

  private restartLater(reason: string): void {
    const delay = RESTART_BACKOFF_MS[Math.min(this.restarts, RESTART_BACKOFF_MS.length - 1)] ?? 10_000;
    this.restarts++;
    this.options.log.warn({ restartInMs: delay }, `${reason}; restarting it`);
    this.restartTimer = setTimeout(() => {
      this.launch().catch((error: unknown) => {
        this.options.log.warn({ reason: messageOf(error) }, "opencode did not restart");
      });
    }, delay);
  }
}
