import type { FastifyBaseLogger } from "fastify";
import type { GlobalSource, GlobalSourceState } from "./global.js";
import type { Reconciler } from "./poll.js";

/** What feeds `/event`: `auto` picks global when upstream's stream works, poll otherwise. */
export type SourceMode = "auto" | "global" | "poll" | "passthrough";

/** What is feeding the hub right now. */
export type ActiveSource = "global" | "poll";

/**
 * Decides, and keeps deciding, where events come from: upstream's global stream with
 * the reconciler checking slowly behind it, or the reconciler alone, polling fast. In
 * `auto` it moves to polling when the stream cannot be had, and back when it returns,
 * reconciling on the way back so clients converge on what they missed.
 */
export class EventSources {
  private activeSource: ActiveSource;

  constructor(
    readonly mode: Exclude<SourceMode, "passthrough">,
    readonly global: GlobalSource | undefined,
    readonly reconciler: Reconciler,
    private readonly log: FastifyBaseLogger,
  ) {
    this.activeSource = mode === "poll" ? "poll" : "global";
    reconciler.setPace(mode === "poll" ? "fast" : "slow");
    global?.on("state", (state: GlobalSourceState) => this.onGlobalState(state));
  }

  get active(): ActiveSource {
    return this.activeSource;
  }

  /** Whether the hub must serve `/global/event` itself (nobody upstream is streaming it to the shim). */
  get servesGlobalEvent(): boolean {
    return this.activeSource === "poll";
  }

  /**
   * Starts the sources. `global` insists on upstream's stream; `auto` settles for
   * polling when the stream is not there within `waitMs`, and keeps trying it.
   */
  async start(waitMs: number): Promise<void> {
    if (!this.global) return;
    this.global.start();
    if (this.mode === "global") {
      await this.global.ready(waitMs);
      return;
    }
    try {
      await this.global.ready(waitMs);
    } catch (error) {
      this.log.warn(
        { reason: error instanceof Error ? error.message : String(error) },
        "upstream /global/event is not streaming: rebuilding /event by polling until it does",
      );
      this.switchTo("poll");
    }
  }

  /**
   * Before a client's stream starts: have the reconciler follow its instance. When the
   * reconciler is the source, wait until it knows the instance's present state, so
   * that everything after the client's `server.connected` reaches it as news.
   */
  async prepare(directory: string): Promise<void> {
    const tracked = this.reconciler.track(directory);
    if (this.activeSource === "poll") {
      await tracked;
      return;
    }
    tracked.catch(() => {}); // behind a live stream this is only a safety net; it retries on its own
  }

  async stop(): Promise<void> {
    await this.global?.stop();
    await this.reconciler.stop();
  }

  private onGlobalState(state: GlobalSourceState): void {
    if (this.mode !== "auto") {
      if (state === "live") void this.reconciler.reconcileAll();
      return;
    }
    if (state === "live" && this.activeSource === "poll") {
      this.switchTo("global");
      void this.reconciler.reconcileAll();
    } else if (state === "down" && this.activeSource === "global") {
      this.switchTo("poll");
    }
  }

  private switchTo(source: ActiveSource): void {
    this.activeSource = source;
    this.reconciler.setPace(source === "poll" ? "fast" : "slow");
    this.log.info(
      { source },
      source === "poll" ? "event source: polling upstream" : "event source: upstream /global/event",
    );
  }
}
