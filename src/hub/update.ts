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
}

/** An envelope the hub has accepted: numbered, and framed once for every subscriber. */
export interface Update extends Envelope {
  seq: number;
  /** The SSE `id:` of this update. */
  cursor: string;
  /** The `/event` frame, `id:` line included. */
  frame: Buffer;
  /** The `/global/event` frame, made the first time a global subscriber needs it. */
  globalFrame?: Buffer;
}

/** An event's properties, as an object (empty when they are not one). */
export function propertiesOf(payload: EventPayload): Record<string, unknown> {
  const { properties } = payload;
  return typeof properties === "object" && properties !== null && !Array.isArray(properties)
    ? (properties as Record<string, unknown>)
    : {};
}

/** The session an event is about: its `sessionID`, or that of the part or message it carries, or the session it carries. */
export function sessionOf(payload: EventPayload): string | undefined {
  const p = propertiesOf(payload);
  const part = p.part as { sessionID?: unknown } | undefined;
  const info = p.info as { id?: unknown; sessionID?: unknown } | undefined;
  for (const candidate of [p.sessionID, part?.sessionID, info?.sessionID, info?.id])
    if (typeof candidate === "string") return candidate;
  return undefined;
}
