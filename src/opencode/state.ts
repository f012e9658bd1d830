/**
 * The shapes of opencode's state that the shim keeps and compares — sessions, statuses,
 * messages and their parts, pending permissions and questions — and how two versions of a
 * part compare. Only the fields the shim reads are typed; the rest is carried along untouched.
 */

export interface SessionInfo {
  id: string;
  directory?: string;
  /** The session it was started from: a subagent's (the `task` tool's) caller. */
  parentID?: string;
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

/** Parts whose text opencode streams as `message.part.delta`s. */
const STREAMED_TYPES = new Set(["text", "reasoning"]);

/** Whether opencode streams the part's text word by word (then it grows by deltas). */
export function streamsText(part: Part): boolean {
  return STREAMED_TYPES.has(part.type);
}

/** How far a tool call has got: pending, running, then done (completed or failed). */
const TOOL_PROGRESS: Record<string, number> = { pending: 0, running: 1, completed: 2, error: 2 };

/** Whether the part is a tool call still under way (pending or running). */
export function toolInFlight(part: Part): boolean {
  return part.type === "tool" && (TOOL_PROGRESS[part.state?.status ?? ""] ?? 2) < 2;
}

/**
 * Where `part` stands against `reference`, another version of the same part: `ahead` when its
 * text extends the other's, its tool call got further or it ended where the other had not;
 * `behind` when its text is a beginning of the other's or its tool call is less far on;
 * `replaced` when its text is another text altogether; `level` when nothing says either.
 */
export function partStanding(reference: Part, part: Part): "ahead" | "behind" | "replaced" | "level" {
  const { text } = reference;
  if (typeof text === "string" && typeof part.text === "string" && part.text !== text) {
    if (part.text.startsWith(text)) return "ahead";
    return text.startsWith(part.text) ? "behind" : "replaced";
  }
  const before = TOOL_PROGRESS[reference.state?.status ?? ""];
  const after = TOOL_PROGRESS[part.state?.status ?? ""];
  if (before !== undefined && after !== undefined && after !== before)
    return after > before ? "ahead" : "behind";
  return reference.time?.end === undefined && part.time?.end !== undefined ? "ahead" : "level";
}
