import type { EventPayload } from "../../hub/update.js";
import type { IdleTold, InstanceView } from "../../opencode/instance-state.js";
import type { MessageWithParts } from "../../opencode/state.js";
import { event } from "./diff.js";

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
  // Not before the session was created: a fork's copied questions are no turns of its own.
  const born = state.session(read.sessionID)?.time?.created ?? 0;
  return read.messages
    .map(({ info }) => info)
    .filter(
      (info) =>
        info.role === "user" &&
        info.time.created > toldAt &&
        info.time.created >= born &&
        !fromHistory(state, read, info),
    )
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

/** What the ledger of turn ends says of a read session (see `turnLedger`). */
export interface TurnLedger {
  /** The questions before which a turn ended that clients were never told of, oldest first. */
  untold: string[];
  /** Whether clients were told the end of the read's last turn; undefined while its answer is not a final one, or was there before the shim looked. */
  lastEndTold: boolean | undefined;
}

/**
 * The read's turn ends against the ledger of those clients were told: each end in the read
 * (the answer before a question, or the newest answer when it is a final one) is matched
 * with a `session.idle` clients were told — the one a correction told for it, else one told
 * after it completed, the newest end first — so that what is left over is what was lost:
 * by a lossy stream that carried a later turn's end and lost earlier ones, say. Ends before
 * questions from before the shim looked, and ends copied from another session (a fork), are
 * never owed (they may still take up an idle told for them).
 */
export function turnLedger(state: InstanceView, read: SessionRead): TurnLedger {
  const ends: Array<{ completed: number; question?: MessageWithParts["info"] }> = [];
  for (const { info } of read.messages) {
    if (info.role !== "user") continue;
    const completed = answerBefore(read, info.id)?.time.completed;
    if (completed !== undefined) ends.push({ completed, question: info });
  }
  // A turn that ended before its session was created is a copy (opencode's fork keeps the
  // times): opencode never says it ended.
  const born = state.session(read.sessionID)?.time?.created ?? 0;
  const last = lastAnswer(read.messages);
  const lastEnd =
    last?.time.completed !== undefined &&
    !continues(last) &&
    !fromHistory(state, read, last) &&
    last.time.completed >= born
      ? { completed: last.time.completed }
      : undefined;
  if (lastEnd) ends.push(lastEnd);
  ends.sort((a, b) => b.completed - a.completed);
  const told = new Set<number>();
  const byTime: IdleTold[] = [];
  for (const idle of state.idlesTold(read.sessionID)) {
    const index = ends.findIndex((end, i) => end.completed === idle.ends && !told.has(i));
    if (index !== -1) told.add(index);
    else byTime.push(idle);
  }
  for (const idle of byTime) {
    const index = ends.findIndex((end, i) => end.completed <= idle.at && !told.has(i));
    if (index !== -1) told.add(index);
  }
  const untold = ends
    .filter(
      (end, i) =>
        !told.has(i) && end.question && end.completed >= born && !fromHistory(state, read, end.question),
    )
    .map((end) => end.question as MessageWithParts["info"])
    .sort((a, b) => a.time.created - b.time.created)
    .map((info) => info.id);
  return { untold, lastEndTold: lastEnd ? told.has(ends.indexOf(lastEnd)) : undefined };
}

/** An answer after which opencode's loop goes on (it called tools): a step of its turn, not the turn's end. */
function continues(answer: MessageWithParts["info"]): boolean {
  return answer.finish === "tool-calls" || answer.finish === "unknown";
}

/** The newest message, when it is an assistant's answer that completed: the turn is over, or between two steps. */
export function lastAnswer(messages: MessageWithParts[]): MessageWithParts["info"] | undefined {
  let newest: MessageWithParts["info"] | undefined;
  for (const { info } of messages) if (!newest || info.time.created >= newest.time.created) newest = info;
  return newest?.role === "assistant" && newest.time.completed !== undefined ? newest : undefined;
}

/** A turn is over when the newest message is an assistant's answer that completed. */
export function turnFinished(messages: MessageWithParts[]): boolean {
  return lastAnswer(messages) !== undefined;
}

/** Whether a message was there before the shim looked: taken in as history, or older than the read's history. */
function fromHistory(state: InstanceView, read: SessionRead, info: MessageWithParts["info"]): boolean {
  const told = state.message(read.sessionID, info.id)?.info;
  return told ? told.at === undefined : info.time.created <= read.historyUntil;
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
 * `session.idle`, then busy, then the next question and what followed. A question clients
 * were told already (not among `events`) gets its `session.idle` alone, before anything
 * said of later messages: what clients were told of its turn's status stands. With `idleStatusTold`, the first end's
 * idle status was told already (clients were told an idle status without its
 * `session.idle`): that end is its `session.idle` alone; with `endsAlone`, every end is.
 */
export function withTurnEnds(
  read: SessionRead,
  events: EventPayload[],
  questions: string[],
  turnEnds: TurnEnds,
  { idleStatusTold = false, endsAlone = false }: { idleStatusTold?: boolean; endsAlone?: boolean } = {},
): EventPayload[] {
  if (questions.length === 0) return events;
  const { sessionID } = read;
  const created = new Map(read.messages.map(({ info }) => [info.id, info.time.created]));
  const out = [...events];
  for (const [index, messageID] of questions.entries()) {
    const asked = created.get(messageID) ?? Number.POSITIVE_INFINITY;
    // Before what is said of the question or of anything after it.
    const found = out.findIndex((payload) => (created.get(messageOf(payload) ?? "") ?? -1) >= asked);
    const at = found === -1 ? out.length : found;
    const end = turnEnds.told(sessionID, answerBefore(read, messageID)?.time.completed);
    const questionTold = !out.some((payload) => messageOf(payload) === messageID);
    if (questionTold || endsAlone) out.splice(at, 0, end);
    else if (index === 0 && idleStatusTold) out.splice(at, 0, end, busyEvent(sessionID));
    else out.splice(at, 0, idleStatus(sessionID), end, busyEvent(sessionID));
  }
  return out;
}

/**
 * The `session.idle`s a set of corrections tells, each with the end of the turn it tells
 * (when that turn's answer completed, upstream's clock): the ledger's record of which turn
 * ended (see `turnLedger`).
 */
export class TurnEnds {
  readonly completedAt = new Map<EventPayload, number>();

  /** A `session.idle` that ends the turn whose answer completed at `completed`. */
  told(sessionID: string, completed: number | undefined): EventPayload {
    const payload = event("session.idle", { sessionID });
    if (completed !== undefined) this.completedAt.set(payload, completed);
    return payload;
  }

  /** The turn's end whole: idle status and `session.idle`. */
  whole(sessionID: string, completed: number | undefined): EventPayload[] {
    return [idleStatus(sessionID), this.told(sessionID, completed)];
  }
}

function idleStatus(sessionID: string): EventPayload {
  return event("session.status", { sessionID, status: { type: "idle" } });
}

function busyEvent(sessionID: string): EventPayload {
  return event("session.status", { sessionID, status: { type: "busy" } });
}

/** The message an event is about, if any. */
function messageOf(payload: EventPayload): string | undefined {
  const p = payload.properties as {
    info?: { id?: string };
    part?: { messageID?: string };
    messageID?: string;
  };
  return p.info?.id ?? p.part?.messageID ?? p.messageID;
}
