import type { EventPayload } from "../../hub/update.js";
import type { InstanceView } from "../../opencode/instance-state.js";
import type { MessageWithParts } from "../../opencode/state.js";
import { event, idleEvents } from "./diff.js";

/** A read of one session's newest messages, as a snapshot holds it. */
export interface SessionRead {
  sessionID: string;
  messages: MessageWithParts[];
  /** Messages created up to this upstream time were there before the shim knew the session's messages. */
  historyUntil: number;
  /** When the read was asked for (this machine's clock, as upstream's own times are). */
  askedAt?: number;
}

/**
 * The turns of a read session that clients were never told began, by their question (the
 * user message's id), oldest first: questions newer than the last status clients were told
 * of the session (a stream that lost the turn's busy and idle, or turns that came and went
 * between two reads) — not those from before the shim looked. A status a correction told is
 * as old as the read it came from: a question asked after that read is newer, though it may
 * be older than the telling (a read takes a while, and behind a trusted stream waits its grace).
 */
export function turnsBegun(state: InstanceView, read: SessionRead): string[] {
  const told = state.statuses.get(read.sessionID);
  const toldAt = told?.asOf ?? told?.at ?? 0;
  return read.messages
    .map(({ info }) => info)
    .filter((info) => info.role === "user" && info.time.created > toldAt && !fromHistory(state, read, info))
    .sort((a, b) => a.time.created - b.time.created)
    .map((info) => info.id);
}

/**
 * How far a read of the session's messages saw its questions (upstream's clock): to the
 * newest one it found; to when it was asked for when its window held none (a turn of many
 * steps). A status told from that read is as of then: a later question is a turn the read
 * did not see. (Not the later of the two: a question stamped just before the read but
 * stored just after would pass for seen.)
 */
export function questionsSeenUntil(read: SessionRead): number | undefined {
  let newest: number | undefined;
  for (const { info } of read.messages)
    if (info.role === "user" && (newest === undefined || info.time.created > newest))
      newest = info.time.created;
  return newest ?? read.askedAt;
}

/**
 * Questions after an answer that completed later than the last `session.idle` clients were
 * told (upstream publishes a turn's end after its answer completes): that answer's turn
 * ended unsaid — a lossy stream lost its end (and maybe its busy, or the next question)
 * while it carried the next busy, which opencode says several times a turn. Not those from
 * before the shim looked. Oldest first.
 */
export function endsLostBefore(state: InstanceView, read: SessionRead): string[] {
  const lastIdle = state.idles.get(read.sessionID)?.at ?? 0;
  return read.messages
    .map(({ info }) => info)
    .filter((info) => {
      if (info.role !== "user" || fromHistory(state, read, info)) return false;
      const completed = answerBefore(read, info.id)?.time.completed;
      return completed !== undefined && completed > lastIdle;
    })
    .sort((a, b) => a.time.created - b.time.created)
    .map((info) => info.id);
}

/** Whether a message was there before the shim looked: taken in as history, or older than the read's history. */
function fromHistory(state: InstanceView, read: SessionRead, info: MessageWithParts["info"]): boolean {
  const told = state.message(read.sessionID, info.id)?.info;
  return told ? told.at === undefined : info.time.created <= read.historyUntil;
}

/** Messages of a read by id, each once, oldest first. */
export function oldestFirst(read: SessionRead, messageIDs: string[]): string[] {
  const wanted = new Set(messageIDs);
  return read.messages
    .map(({ info }) => info)
    .filter((info) => wanted.has(info.id))
    .sort((a, b) => a.time.created - b.time.created)
    .map((info) => info.id);
}

/** Whether the message before the question `messageID` is a completed answer: the turn before it ended. */
export function answeredBefore(read: SessionRead, messageID: string): boolean {
  return answerBefore(read, messageID)?.time.completed !== undefined;
}

/** The answer right before the question `messageID`, if the message before it is one. */
function answerBefore(read: SessionRead, messageID: string): MessageWithParts["info"] | undefined {
  const question = read.messages.find(({ info }) => info.id === messageID)?.info;
  if (!question) return undefined;
  let before: MessageWithParts["info"] | undefined;
  for (const { info } of read.messages)
    if (info.time.created < question.time.created && (!before || info.time.created >= before.time.created))
      before = info;
  return before?.role === "assistant" ? before : undefined;
}

/**
 * A session's message events with the end of a turn before each of `questions` (the next
 * turns' user messages), where upstream has them: the turn's last words, idle and
 * `session.idle`, then busy, then the next question and what followed. With
 * `idleStatusTold`, the first end's idle status was told already (clients were told an idle
 * status without its `session.idle`): that end is its `session.idle` alone.
 */
export function withTurnEnds(
  sessionID: string,
  events: EventPayload[],
  questions: string[],
  idleStatusTold = false,
): EventPayload[] {
  if (questions.length === 0) return events;
  const out = [...events];
  for (const [index, messageID] of questions.entries()) {
    const at = out.findIndex((payload) => concerns(payload, messageID));
    const end = index === 0 && idleStatusTold ? idleEvents(sessionID).slice(1) : idleEvents(sessionID);
    out.splice(at === -1 ? out.length : at, 0, ...end, busyEvent(sessionID));
  }
  return out;
}

function busyEvent(sessionID: string): EventPayload {
  return event("session.status", { sessionID, status: { type: "busy" } });
}

function concerns(payload: EventPayload, messageID: string): boolean {
  const p = payload.properties as {
    info?: { id?: string };
    part?: { messageID?: string };
    messageID?: string;
  };
  return (p.info?.id ?? p.part?.messageID ?? p.messageID) === messageID;
}
