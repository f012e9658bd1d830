/**
 * The shapes of opencode's state that the shim keeps and compares: only the fields it
 * reads are typed, the rest is carried along untouched.
 */

export interface SessionInfo {
  id: string;
  directory?: string;
  time: { created: number; updated: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface SessionStatus {
  type: string;
  [key: string]: unknown;
}

export interface MessageInfo {
  id: string;
  role: string;
  time: { created: number; completed?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface Part {
  id: string;
  messageID: string;
  sessionID: string;
  type: string;
  text?: string;
  state?: { status?: string; [key: string]: unknown };
  time?: { end?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface MessageWithParts {
  info: MessageInfo;
  parts: Part[];
}

/** A pending permission or question: `{id, sessionID, …}`. */
export interface PendingRequest {
  id: string;
  sessionID: string;
  tool?: { messageID?: string; callID?: string };
  [key: string]: unknown;
}

/**
 * A part as REST keeps it: a running tool's events carry `state.raw` (its arguments as
 * they streamed in), which REST leaves out. It is no part of the state to compare.
 */
export function storedPart(part: Part): Part {
  if (!part.state || !("raw" in part.state)) return part;
  const { raw: _streamed, ...state } = part.state;
  return { ...part, state };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Key-order-insensitive deep equality for JSON values. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a).filter((key) => a[key] !== undefined);
    const otherKeys = Object.keys(b).filter((key) => b[key] !== undefined);
    return keys.length === otherKeys.length && keys.every((key) => sameJson(a[key], b[key]));
  }
  return false;
}
