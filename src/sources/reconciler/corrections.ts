import type { EventPayload } from "../../hub/update.js";
import type { InstanceView } from "../../opencode/instance-state.js";
import type { History } from "../../opencode/mirror.js";
import type {
  MessageWithParts,
  Part,
  PendingRequest,
  SessionInfo,
  SessionStatus,
} from "../../opencode/state.js";
import {
  diffList,
  diffMessages,
  diffRequests,
  diffSessions,
  diffStatuses,
  event,
  idleEvents,
} from "./diff.js";
import { permissionReplied, questionSettled, type Settle } from "./settle.js";
import {
  lastAnswer,
  TurnEnds,
  type TurnLedger,
  turnFinished,
  turnLedger,
  turnsBegun,
  withTurnEnds,
} from "./turns.js";

/**
 * What one read of an instance found upstream. Each piece carries `since`: the hub's
 * sequence number when it was requested — whatever clients were told after that is
 * newer than the piece and is left alone.
 */
export interface Snapshot {
  sessions?: { list: SessionInfo[]; complete: boolean; since: number };
  /** `GET /session/status`: the sessions that are not idle. */
  statuses?: { value: Record<string, SessionStatus>; since: number };
  messages: Array<{
    sessionID: string;
    messages: MessageWithParts[];
    complete: boolean;
    /** Messages created up to this upstream time were there before the shim knew the session's messages. */
    historyUntil: number;
    /** When the read was asked for (this machine's clock, as upstream's own times are). */
    askedAt?: number;
    since: number;
  }>;
  requests?: { permissions: PendingRequest[]; questions: PendingRequest[]; since: number };
  todos: Array<{ sessionID: string; list: unknown[]; since: number }>;
  diffs: Array<{ sessionID: string; list: unknown[]; since: number }>;
}

export interface Corrections {
  /** In the order upstream would have sent them. */
  events: EventPayload[];
  /** Of the `session.idle`s among them, when the answer of the turn each ends completed (upstream's clock). */
  turnEnds: ReadonlyMap<EventPayload, number>;
  /** What was there before the shim looked: taken in silently. */
  history: History;
}

/**
 * A snapshot against what clients were told: the events that bring them to it, in
 * upstream's order — sessions; a status that turned busy; each session's messages (a
 * turn that began between two reads announced busy first); permissions and questions;
 * todos and diffs; and last, the sessions that went idle: `session.status` idle and
 * `session.idle`, once. Pure.
 */
export function correctionsFor(state: InstanceView, snapshot: Snapshot): Corrections {
  const events: EventPayload[] = [];
  const historyMessages: NonNullable<History["messages"]> = [];
  const history: History = { messages: historyMessages };
  const turnEnds = new TurnEnds();
  if (snapshot.sessions) {
    const { list, complete, since } = snapshot.sessions;
    events.push(...diffSessions(state, { sessions: list, complete }, since));
  }

  const busy = new Set(state.activeSessions());
  let wentIdle: string[] = [];
  const restStatuses = snapshot.statuses?.value;
  if (snapshot.statuses) {
    const diff = diffStatuses(state, snapshot.statuses.value, snapshot.statuses.since);
    events.push(...diff.events);
    for (const payload of diff.events) busy.add((payload.properties as { sessionID: string }).sessionID);
    wentIdle = diff.becameIdle;
  }

  const turnsSeenWhole: string[] = [];
  const ledgers = new Map<string, TurnLedger>();
  /** Sessions whose turn these corrections begin: its end is theirs to tell whole. */
  const opened = new Set<string>();
  for (const read of snapshot.messages) {
    const { sessionID } = read;
    const diff = diffMessages(state, read, read.since, read.historyUntil);
    if (diff.history.length > 0) historyMessages.push({ sessionID, messages: diff.history });
    const begun = turnsBegun(state, read);
    // Turn ends clients were never told of, though REST shows them (the ledger: `turnLedger`):
    // turns that came and went between two reads, two short turns back to back (upstream's
    // status read busy both times), a lossy stream that lost a turn's end (and maybe the next
    // question) while it carried the next busy, or a later turn's end.
    const ledger = turnLedger(state, read);
    ledgers.set(sessionID, ledger);
    const { untold } = ledger;
    /** The first end's idle status was told, its session.idle lost. */
    let idleStatusTold = false;
    /** Each end its `session.idle` alone: the statuses clients were told are right already. */
    let endsAlone = false;
    let boundaries = untold;
    // Busy as clients were told, though its turn's session.idle was told since (a stream that lost the idle status).
    const busyOfEndedTurn = state.activeSessions().includes(sessionID) && !state.turnOpen(sessionID);
    if ((!state.activeSessions().includes(sessionID) || busyOfEndedTurn) && begun.length > 0) {
      // Turns clients never heard began: busy before their messages, each one's end before the next.
      if (!busy.has(sessionID) || busyOfEndedTurn)
        events.push(event("session.status", { sessionID, status: { type: "busy" } }));
      busy.add(sessionID);
      turnsSeenWhole.push(sessionID);
      opened.add(sessionID);
    } else {
      // While the stream is still telling the session's messages it may carry those ends
      // itself — but not one before a question it has gone past.
      const moving = stillMoving(state, snapshot, sessionID);
      boundaries = untold.filter((id) => !moving || streamWentPast(state, read, id));
      if (state.turnOpen(sessionID)) {
        idleStatusTold = state.idleStatusUnpaired(sessionID);
        if (boundaries.length > 0) {
          opened.add(sessionID);
          // Statuses read idle between two turns told an earlier end: the last is over only if its answer is.
          if (!turnFinished(read.messages)) wentIdle = wentIdle.filter((id) => id !== sessionID);
        }
      } else endsAlone = true; // the last turn's end was told (a later turn's, by a stream that lost the ones before)
    }
    events.push(...withTurnEnds(read, diff.events, boundaries, turnEnds, { idleStatusTold, endsAlone }));
  }
  for (const sessionID of turnsSeenWhole) {
    const read = snapshot.messages.find((candidate) => candidate.sessionID === sessionID);
    if (restStatuses && !(sessionID in restStatuses) && read && turnFinished(read.messages))
      if (!wentIdle.includes(sessionID)) wentIdle.push(sessionID);
  }

  if (snapshot.requests) {
    const { permissions, questions, since } = snapshot.requests;
    const ending = new Set(wentIdle);
    const toolPart = (request: PendingRequest) => toolPartIn(snapshot, request) ?? state.toolPartOf(request);
    const settledBy =
      (settle: Settle) =>
      (request: PendingRequest): EventPayload | undefined =>
        settle(request, toolPart(request), ending.has(request.sessionID));
    events.push(
      ...diffRequests(state.permissions, permissions, since, {
        asked: "permission.asked",
        settled: settledBy(permissionReplied),
      }),
      ...diffRequests(state.questions, questions, since, {
        asked: "question.asked",
        settled: settledBy(questionSettled),
      }),
    );
  }

  for (const { sessionID, list, since } of snapshot.todos)
    events.push(...diffList(state.todos.get(sessionID), list, since, "todo.updated", sessionID));
  for (const { sessionID, list, since } of snapshot.diffs)
    events.push(...diffList(state.diffs.get(sessionID), list, since, "session.diff", sessionID));
  // Ends in the order they came (a subagent's turn ends before its caller's).
  const endedAt = (sessionID: string) => lastEnd(snapshot, sessionID) ?? Number.POSITIVE_INFINITY;
  wentIdle.sort((a, b) => endedAt(a) - endedAt(b));
  for (const sessionID of wentIdle) {
    if (stillMoving(state, snapshot, sessionID)) continue;
    // Its session.idle told already (a stream that lost the idle status before it): the status alone.
    const ended =
      ledgers.get(sessionID)?.lastEndTold ?? (!state.turnOpen(sessionID) && !opened.has(sessionID));
    events.push(
      ...(ended
        ? idleEvents(sessionID).slice(0, 1)
        : turnEnds.whole(sessionID, lastEnd(snapshot, sessionID))),
    );
  }
  if (snapshot.statuses) {
    // Told idle, but never its session.idle (a stream that carried the one and lost the other).
    for (const sessionID of owedIdle(state, snapshot.statuses.value, snapshot.statuses.since, ledgers))
      if (!wentIdle.includes(sessionID) && !stillMoving(state, snapshot, sessionID))
        events.push(turnEnds.told(sessionID, lastEnd(snapshot, sessionID)));
  }
  return { events, history, turnEnds: turnEnds.completedAt };
}

/** Sessions idle upstream and for clients, whose turn's `session.idle` clients were never told. */
function owedIdle(
  state: InstanceView,
  statuses: Record<string, SessionStatus>,
  since: number,
  ledgers: ReadonlyMap<string, TurnLedger>,
): string[] {
  const owed: string[] = [];
  for (const [sessionID, status] of state.statuses) {
    if (sessionID in statuses || status.value?.type !== "idle" || status.seq > since) continue;
    const lastEndTold = ledgers.get(sessionID)?.lastEndTold;
    if (lastEndTold === undefined ? state.turnOpen(sessionID) : !lastEndTold) owed.push(sessionID);
  }
  return owed;
}

/**
 * Whether upstream's stream told clients of the question `messageID`, or of a message after
 * it: an in-order stream that went past a question would have carried the end of the turn
 * before it, had it not lost it.
 */
function streamWentPast(state: InstanceView, read: Snapshot["messages"][number], messageID: string): boolean {
  const question = read.messages.find(({ info }) => info.id === messageID)?.info;
  if (!question) return false;
  return read.messages.some(({ info }) => {
    if (info.time.created < question.time.created) return false;
    const told = state.message(read.sessionID, info.id);
    if (!told) return false;
    if (told.info && told.info.corrected !== true) return true;
    for (const part of told.parts.values()) if (part.corrected !== true) return true;
    return false;
  });
}

/** When the answer of the session's last turn completed, as the snapshot shows it. */
function lastEnd(snapshot: Snapshot, sessionID: string): number | undefined {
  const read = snapshot.messages.find((candidate) => candidate.sessionID === sessionID);
  return read ? lastAnswer(read.messages)?.time.completed : undefined;
}

/**
 * Whether clients were told of the session's messages after its messages were read (the
 * stream is still delivering them, a backlog of deltas say): then the turn's end is not
 * for this read to say — the stream may yet carry its last words before it.
 */
function stillMoving(state: InstanceView, snapshot: Snapshot, sessionID: string): boolean {
  const read = snapshot.messages.find((candidate) => candidate.sessionID === sessionID);
  return read !== undefined && (state.messages.get(sessionID)?.lastChange ?? 0) > read.since;
}

/** The tool call a request belongs to, as this snapshot shows it (newer than the mirror's). */
function toolPartIn(snapshot: Snapshot, request: PendingRequest): Part | undefined {
  const { messageID, callID } = request.tool ?? {};
  if (!messageID) return undefined;
  for (const read of snapshot.messages) {
    if (read.sessionID !== request.sessionID) continue;
    const message = read.messages.find((candidate) => candidate.info.id === messageID);
    const part = message?.parts.find((candidate) => candidate.callID === callID);
    if (part) return part;
  }
  return undefined;
}
