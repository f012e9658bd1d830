import { createHash } from "node:crypto";
import type { EventPayload } from "../hub/update.js";
import { eventId } from "../ids.js";
import { canonicalJson, isObject, stringOf } from "../json.js";
import type { InstanceState, InstanceView, Stamp, Tracked } from "./instance-state.js";
import type { MessageInfo, Part, PendingRequest, SessionInfo, SessionStatus } from "./state.js";
import { partStanding, storedPart } from "./state.js";

/**
 * What the shim knows of opencode's events, one entry per event type: what an event is
 * about, the state it gives, how it changes what clients were told, whether it tells more
 * than a correction that came before it, and whether REST can rebuild it. The mirror, the
 * sink, the stream's judge and the reconciler read this table; teaching the shim a new
 * event type is an entry here. A type with no entry passes through as it is.
 */

type Properties = Record<string, unknown>;

export interface EventKind {
  /** REST shows what it tells, so the reconciler can rebuild it: while the reconciler feeds clients, the stream's copy goes out only where it tells more than a correction did. */
  readonly rebuilt: boolean;
  /**
   * A session's status: said in the same words turn after turn, so its state key tells
   * nothing of how far behind the stream is, and a late one shows only as the stream being
   * behind on its session.
   */
  readonly status?: true;
  /** Published for every streamed token: a log line of it is no reason to read REST (the reads of busy sessions cover it). */
  readonly perToken?: true;
  /** Carries a session's own info (`info`, its `parentID` among it): the first word of a new subagent's parent. */
  readonly sessionInfo?: true;
  /**
   * The state it gives what it is about, as a short key: upstream's event and the
   * reconciler's correction for the same state have the same key (REST and the events
   * carry the same objects). Absent, or undefined: it gives no state REST could show.
   */
  stateKey?(p: Properties): string | undefined;
  /** What it is about, as clients were told it. Absent: nothing a correction could have told before it. */
  subject?(view: InstanceView, p: Properties): Tracked<unknown> | undefined;
  /**
   * Whether it tells more than `corrected`, its subject as a correction gave it: news even
   * right after that correction (a part that grew, a message that completed). Absent: it
   * never does, so right after a correction it only says the same again.
   */
  furtherThan?(corrected: unknown, p: Properties, view: InstanceView): boolean;
  /** How it changes what clients were told. */
  apply?(state: InstanceState, p: Properties, stamp: Stamp): void;
  /**
   * An announcement clients are owed before this event, which nobody sent: made up from
   * the event itself (the `session.created` of a session whose first update comes after
   * its instance's baseline, when clients never heard of it: a stream that broke lost it).
   */
  owedBefore?(view: InstanceView, p: Properties): EventPayload | undefined;
}

function digest(value: unknown): string {
  return createHash("sha1").update(canonicalJson(value)).digest("base64");
}

/**
 * Whether clients were told a question (a user message) of the session asked after `since`
 * (upstream's clock): a turn began since. Asked, not told: opencode sends a question's
 * message.updated again during the next turn.
 */
function questionAskedSince(view: InstanceView, sessionID: string, since: number): boolean {
  for (const entry of view.messages.get(sessionID)?.messages.values() ?? []) {
    const info = entry.info?.value;
    if (info?.role === "user" && info.time.created > since) return true;
  }
  return false;
}

const infoOf = (p: Properties): Properties => (isObject(p.info) ? p.info : {});
const sessionInfoOf = (p: Properties) => (isObject(p.info) ? (p.info as SessionInfo) : undefined);
const partOf = (p: Properties) => (isObject(p.part) ? (p.part as Part) : undefined);
/** The request a reply settles (`permissionID` in older releases). */
const settledRequest = (p: Properties) => stringOf(p.requestID) ?? stringOf(p.permissionID);
const updatedAt = (info: SessionInfo | undefined) => info?.time?.updated ?? 0;

function sessionEntry(created: boolean): EventKind {
  return {
    rebuilt: true,
    sessionInfo: true,
    stateKey: (p) => `session ${stringOf(infoOf(p).id) ?? ""} ${digest(infoOf(p))}`,
    subject: (view, p) => view.sessions.get(stringOf(infoOf(p).id) ?? ""),
    furtherThan: (corrected, p) => {
      const info = sessionInfoOf(p);
      return (
        info !== undefined &&
        (corrected === undefined || updatedAt(info) > updatedAt(corrected as SessionInfo))
      );
    },
    apply: (state, p, stamp) => {
      const info = sessionInfoOf(p);
      const id = stringOf(info?.id) ?? stringOf(p.sessionID);
      if (!id || !info) return;
      state.sessions.set(id, { value: info, ...stamp });
      state.noteParent(info);
      if (created) state.announcedSessions.add(id);
    },
    owedBefore: created
      ? undefined
      : (view, p) => {
          const info = sessionInfoOf(p);
          const id = stringOf(info?.id);
          if (!view.hasBaseline || !id || view.announced(id)) return undefined;
          return { id: eventId(), type: "session.created", properties: { sessionID: id, info } };
        },
  };
}

/** `session.diff` and `todo.updated`: a whole list per session, kept in `lists`. */
function sessionListEntry(field: "diff" | "todos", lists: "diffs" | "todos"): EventKind {
  return {
    rebuilt: true,
    stateKey: (p) => `${field} ${stringOf(p.sessionID) ?? ""} ${digest(p[field])}`,
    subject: (view, p) => view[lists].get(stringOf(p.sessionID) ?? ""),
    apply: (state, p, stamp) => {
      const sessionID = stringOf(p.sessionID);
      const list = p[field];
      if (sessionID && Array.isArray(list)) state[lists].set(sessionID, { value: list, ...stamp });
    },
  };
}

/** `permission.asked`, `question.asked`: the whole request, pending until settled. */
function askedEntry(type: string, requests: "permissions" | "questions"): EventKind {
  return {
    rebuilt: true,
    stateKey: (p) => `${type} ${stringOf(p.id) ?? ""}`,
    subject: (view, p) => view[requests].get(stringOf(p.id) ?? ""),
    apply: (state, p, stamp) => {
      const id = stringOf(p.id);
      if (id) state[requests].set(id, { value: p as PendingRequest, ...stamp });
    },
  };
}

/** A permission's reply, a question's answer or dismissal: REST tells only that it was settled, not how. */
function settledEntry(kind: "permission" | "question", requests: "permissions" | "questions"): EventKind {
  return {
    rebuilt: true,
    stateKey: (p) => `${kind} settled ${settledRequest(p) ?? ""}`,
    subject: (view, p) => view[requests].get(settledRequest(p) ?? ""),
    apply: (state, p, stamp) => {
      const id = settledRequest(p);
      if (id) state[requests].set(id, { value: undefined, ...stamp });
    },
  };
}

const IDLE = { type: "idle" };

export const EVENTS: Readonly<Record<string, EventKind>> = {
  "session.created": sessionEntry(true),
  "session.updated": sessionEntry(false),
  "session.deleted": {
    rebuilt: true,
    sessionInfo: true,
    stateKey: (p) => `session ${stringOf(infoOf(p).id) ?? stringOf(p.sessionID) ?? ""} deleted`,
    subject: (view, p) => view.sessions.get(stringOf(infoOf(p).id) ?? stringOf(p.sessionID) ?? ""),
    apply: (state, p, stamp) => {
      const id = stringOf(infoOf(p).id) ?? stringOf(p.sessionID);
      if (!id) return;
      const info = sessionInfoOf(p);
      if (info?.id === id) state.noteParent(info);
      state.sessions.set(id, { value: undefined, ...stamp });
      state.forgetSession(id);
    },
  },
  "session.status": {
    rebuilt: true,
    status: true,
    stateKey: (p) => `status ${stringOf(p.sessionID) ?? ""} ${canonicalJson(p.status)}`,
    subject: (view, p) => view.statuses.get(stringOf(p.sessionID) ?? ""),
    // After a status a correction told: another status of the same turn is news; busy after a
    // corrected idle only once a question asked after it was told (a late stream's busy is its last turn's).
    furtherThan: (corrected, p, view) => {
      if (canonicalJson(corrected) === canonicalJson(p.status)) return false;
      if ((corrected as SessionStatus | undefined)?.type !== "idle") return true;
      const sessionID = stringOf(p.sessionID) ?? "";
      const told = view.statuses.get(sessionID);
      return questionAskedSince(view, sessionID, told?.asOf ?? told?.at ?? 0);
    },
    // A new turn's busy after an idle status whose session.idle never came (a lossy stream
    // carried the one and lost the other): that turn's end is owed first.
    owedBefore: (view, p) => {
      const sessionID = stringOf(p.sessionID);
      if (!sessionID || !isObject(p.status) || p.status.type === "idle") return undefined;
      if (view.statuses.get(sessionID)?.value?.type !== "idle" || !view.turnOpen(sessionID)) return undefined;
      return { id: eventId(), type: "session.idle", properties: { sessionID } };
    },
    apply: (state, p, stamp) => {
      const sessionID = stringOf(p.sessionID);
      if (!sessionID || !isObject(p.status)) return;
      const status = p.status as SessionStatus;
      state.statuses.set(sessionID, { value: status, ...stamp });
      if (status.type !== "idle") state.busyAt.set(sessionID, stamp.seq);
      else state.idleStatusAt.set(sessionID, stamp.seq);
    },
  },
  "session.idle": {
    rebuilt: true,
    status: true,
    stateKey: (p) => `status ${stringOf(p.sessionID) ?? ""} ${canonicalJson(IDLE)}`,
    subject: (view, p) => view.idles.get(stringOf(p.sessionID) ?? ""),
    // After the idle a correction told, only a turn clients were told began since ends again.
    furtherThan: (_corrected, p, view) => view.turnOpen(stringOf(p.sessionID) ?? ""),
    // The turn's end, not its status: a client told session.idle without the idle status still shows the session busy.
    apply: (state, p, stamp) => {
      const sessionID = stringOf(p.sessionID);
      if (!sessionID) return;
      state.idles.set(sessionID, { value: true, ...stamp });
      state.toldIdle(sessionID, { at: stamp.at ?? Date.now(), ends: stamp.asOf });
    },
  },
  "session.diff": sessionListEntry("diff", "diffs"),
  "todo.updated": sessionListEntry("todos", "todos"),
  "message.updated": {
    rebuilt: true,
    stateKey: (p) => `message ${stringOf(infoOf(p).id) ?? ""} ${digest(infoOf(p))}`,
    subject: (view, p) => view.message(stringOf(p.sessionID) ?? "", stringOf(infoOf(p).id) ?? "")?.info,
    furtherThan: (corrected, p) =>
      (corrected as MessageInfo | undefined)?.time.completed === undefined &&
      (infoOf(p).time as MessageInfo["time"] | undefined)?.completed !== undefined,
    apply: (state, p, stamp) => {
      const info = isObject(p.info) ? (p.info as MessageInfo) : undefined;
      const sessionID = stringOf(p.sessionID);
      if (!info || !sessionID || !stringOf(info.id)) return;
      const messages = state.messagesOf(sessionID);
      messages.lastChange = stamp.seq;
      const entry = messages.messages.get(info.id);
      if (entry) entry.info = { value: info, ...stamp };
      else messages.messages.set(info.id, { info: { value: info, ...stamp }, parts: new Map() });
    },
  },
  "message.removed": {
    rebuilt: true,
    stateKey: (p) => `message ${stringOf(p.messageID) ?? ""} removed`,
    subject: (view, p) => view.message(stringOf(p.sessionID) ?? "", stringOf(p.messageID) ?? "")?.info,
    apply: (state, p, stamp) => {
      const entry = state.changedMessage(stringOf(p.sessionID), stringOf(p.messageID), stamp.seq);
      if (!entry) return;
      entry.info = { value: undefined, ...stamp };
      entry.parts.clear();
    },
  },
  "message.part.updated": {
    rebuilt: true,
    stateKey: (p) => {
      const part = partOf(p);
      return `part ${stringOf(part?.id) ?? ""} ${digest(part ? storedPart(part) : {})}`;
    },
    subject: (view, p) => {
      const part = partOf(p);
      const sessionID = stringOf(part?.sessionID) ?? stringOf(p.sessionID) ?? "";
      return view.message(sessionID, stringOf(part?.messageID) ?? "")?.parts.get(stringOf(part?.id) ?? "");
    },
    furtherThan: (corrected, p) => {
      const part = partOf(p);
      if (part === undefined || corrected === undefined) return false;
      const standing = partStanding(corrected as Part, part);
      // A part finished is further than one under way, whatever text the deltas since put
      // together (a stream that came back mid-reply lost some).
      const finished = (corrected as Part).time?.end === undefined && part.time?.end !== undefined;
      return standing === "ahead" || (standing === "replaced" && finished);
    },
    apply: (state, p, stamp) => {
      const part = partOf(p);
      const sessionID = stringOf(part?.sessionID) ?? stringOf(p.sessionID);
      if (!part || !stringOf(part.id) || !stringOf(part.messageID) || !sessionID) return;
      // A part told before its message (or without it): kept, so that it is not news again later.
      const messages = state.messagesOf(sessionID);
      messages.lastChange = stamp.seq;
      let entry = messages.messages.get(part.messageID);
      if (!entry) {
        entry = { parts: new Map() };
        messages.messages.set(part.messageID, entry);
      }
      entry.parts.set(part.id, { value: part, ...stamp });
    },
  },
  "message.part.removed": {
    rebuilt: true,
    stateKey: (p) => `part ${stringOf(p.partID) ?? ""} removed`,
    subject: (view, p) =>
      view
        .message(stringOf(p.sessionID) ?? "", stringOf(p.messageID) ?? "")
        ?.parts.get(stringOf(p.partID) ?? ""),
    apply: (state, p, stamp) => {
      const partID = stringOf(p.partID);
      const entry = state.changedMessage(stringOf(p.sessionID), stringOf(p.messageID), stamp.seq);
      if (entry && partID) entry.parts.set(partID, { value: undefined, ...stamp });
    },
  },
  "message.part.delta": {
    rebuilt: true,
    perToken: true,
    subject: (view, p) =>
      view
        .message(stringOf(p.sessionID) ?? "", stringOf(p.messageID) ?? "")
        ?.parts.get(stringOf(p.partID) ?? ""),
    // REST stores a part's text once it is done: a delta after the whole text is late.
    furtherThan: (corrected) => (corrected as Part | undefined)?.time?.end === undefined,
    apply: (state, p, stamp) => {
      const field = stringOf(p.field);
      const delta = stringOf(p.delta);
      const partID = stringOf(p.partID);
      const entry = state.changedMessage(stringOf(p.sessionID), stringOf(p.messageID), stamp.seq);
      const tracked = partID ? entry?.parts.get(partID) : undefined;
      const part = tracked?.value;
      if (!tracked || !part || !field || delta === undefined) return;
      const current = part[field];
      tracked.value = { ...part, [field]: (typeof current === "string" ? current : "") + delta };
      tracked.seq = stamp.seq;
      tracked.at = stamp.at;
    },
  },
  "permission.asked": askedEntry("permission.asked", "permissions"),
  "permission.replied": settledEntry("permission", "permissions"),
  "question.asked": askedEntry("question.asked", "questions"),
  "question.replied": settledEntry("question", "questions"),
  "question.rejected": settledEntry("question", "questions"),
};

/** The table's entry for a type; undefined for a type the shim passes on without knowing it. */
export function eventKind(type: string): EventKind | undefined {
  return Object.hasOwn(EVENTS, type) ? EVENTS[type] : undefined;
}

/** The event types the reconciler rebuilds from REST. */
export const REBUILT_TYPES: ReadonlySet<string> = new Set(
  Object.entries(EVENTS)
    .filter(([, kind]) => kind.rebuilt)
    .map(([type]) => type),
);

/** An event's properties, as an object (empty when they are not one). */
export function propertiesOf(payload: EventPayload): Properties {
  return isObject(payload.properties) ? payload.properties : {};
}

/** The state an event gives, as its entry keys it; undefined when it gives none REST could show. */
export function stateKey(payload: EventPayload): string | undefined {
  return eventKind(payload.type)?.stateKey?.(propertiesOf(payload));
}

/** Deeper than any chain of subagents: a cycle in bad data ends here. */
const MAX_LINEAGE = 32;
const NO_SESSION: readonly string[] = Object.freeze([]);

/**
 * Whom an event is about: its session, then that session's parent, and so on up — the
 * sessions whose followers get it (a subagent's events reach its caller's followers).
 * Empty for an event about no session. The parent comes from the event itself when it
 * carries the session (a session.created of a child is the first word of it), else from
 * what clients were told.
 */
export function lineageOf(view: InstanceView, payload: EventPayload): readonly string[] {
  const own = sessionOf(payload);
  if (own === undefined) return NO_SESSION;
  const info = eventKind(payload.type)?.sessionInfo ? sessionInfoOf(propertiesOf(payload)) : undefined;
  const lineage = [own];
  let parent = info?.id === own ? stringOf(info.parentID) : view.parentOf(own);
  while (parent !== undefined && lineage.length < MAX_LINEAGE && !lineage.includes(parent)) {
    lineage.push(parent);
    parent = view.parentOf(parent);
  }
  return lineage;
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
