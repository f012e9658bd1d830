import type { EventOrigin } from "../metrics.js";

/** One opencode bus event, as `/event` carries it: `{id, type, properties}`. */
export interface EventPayload {
  id?: string;
  type: string;
  properties?: unknown;
  [key: string]: unknown;
}

export type { EventOrigin };

/** An event and the instance it belongs to, as a source hands it to the hub. */
export interface Envelope {
  directory: string;
  workspace?: string | undefined;
  project?: string | undefined;
  payload: EventPayload;
  origin?: EventOrigin;
  /**
   * A correction's word is as of this moment (this machine's clock, as upstream's own times
   * are): what REST showed then. What upstream did later is not in it, though it was told later.
   */
  asOf?: number;
}

/** An envelope the hub has accepted: numbered, and framed once for every subscriber. */
export interface Update extends Envelope {
  seq: number;
  /**
   * The sessions it is about: its own, then its ancestors (a subagent's caller, …); empty
   * when it is about none. A stream that follows sessions gets it when it names one of them.
   */
  sessions: readonly string[];
  /** The SSE `id:` of this update. */
  cursor: string;
  /** The `/event` frame, `id:` line included. */
  frame: Buffer;
  /** The `/global/event` frame, made the first time a global subscriber needs it. */
  globalFrame?: Buffer;
}
