import type { EventPayload } from "../../hub/update.js";
import { eventId } from "../../ids.js";
import { sameJson } from "../../json.js";
import type { InstanceView, Tracked } from "../../opencode/instance-state.js";
import {
  type MessageWithParts,
  type Part,
  type PendingRequest,
  partStanding,
  type SessionInfo,
  type SessionStatus,
  storedPart,
  streamsText,
} from "../../opencode/state.js";

/**
 * The reconciler's arithmetic, one kind of state at a time: a REST snapshot of upstream
 * against what the mirror knows, out come the events upstream would have sent for the
 * difference — shaped as upstream shapes them. Pure: the caller publishes them (which
 * updates the mirror).
 *
 * Nothing here moves state backwards. `since` is the hub sequence number when the
 * snapshot was requested: whatever the mirror learned after that is newer than the
 * snapshot and is left alone.
 */

export function event(type: string, properties: Record<string, unknown>): EventPayload {
  return { id: eventId(), type, properties };
}

/** The mirror learned this after the snapshot was requested: the snapshot cannot be newer. */
function newerThanSnapshot(tracked: Tracked<unknown> | undefined, since: number): boolean {
  return tracked !== undefined && tracked.seq > since;
}

export interface SessionSnapshot {
  sessions: SessionInfo[];
  /** The listing holds every session (not one page, not only the recently updated). */
  complete: boolean;
}

/** session.created / session.updated / session.deleted. */
export function diffSessions(state: InstanceView, snapshot: SessionSnapshot, since: number): EventPayload[] {
  const out: EventPayload[] = [];
  const seen = new Set<string>();
  for (const info of snapshot.sessions) {
    seen.add(info.id);
    const tracked = state.sessions.get(info.id);
    if (newerThanSnapshot(tracked, since)) continue;
    const mirrored = tracked?.value;
    if (!tracked || (mirrored && !state.announced(info.id))) {
      // New, or only ever told as updated (its session.created lost): clients are owed its creation.
      out.push(event("session.created", { sessionID: info.id, info }));
    } else if (mirrored && info.time.updated >= mirrored.time.updated && !sameJson(mirrored, info)) {
      out.push(event("session.updated", { sessionID: info.id, info }));
    }
    // A tombstone with an older seq: the session was deleted, then listed again — only
    // possible if the listing raced the deletion, so the tombstone stands.
  }
  if (snapshot.complete) {
    for (const [sessionID, tracked] of state.sessions) {
      if (!tracked.value || seen.has(sessionID) || newerThanSnapshot(tracked, since)) continue;
      out.push(event("session.deleted", { sessionID, info: tracked.value }));
    }
  }
  return out;
}

export interface StatusDiff {
  /** Sessions that turned busy or retrying (or changed retry details): announce before their messages. */
  events: EventPayload[];
  /** Sessions that went idle: announce after a last look at their messages. */
  becameIdle: string[];
}

/** `statuses` is `GET /session/status`: the sessions that are not idle. */
export function diffStatuses(
  state: InstanceView,
  statuses: Record<string, SessionStatus>,
  since: number,
): StatusDiff {
  const events: EventPayload[] = [];
  for (const [sessionID, status] of Object.entries(statuses)) {
    const tracked = state.statuses.get(sessionID);
    if (newerThanSnapshot(tracked, since)) continue;
    // A turn's end told since the read: its busy is older news (a read waits its grace behind a trusted stream).
    if (status.type !== "idle" && newerThanSnapshot(state.idles.get(sessionID), since)) continue;
    if (!sameJson(tracked?.value ?? { type: "idle" }, status)) {
      events.push(event("session.status", { sessionID, status }));
    }
  }
  const becameIdle: string[] = [];
  for (const sessionID of state.activeSessions()) {
    if (sessionID in statuses || newerThanSnapshot(state.statuses.get(sessionID), since)) continue;
    becameIdle.push(sessionID);
  }
  return { events, becameIdle };
}

export function idleEvents(sessionID: string): EventPayload[] {
  return [
    event("session.status", { sessionID, status: { type: "idle" } }),
    event("session.idle", { sessionID }),
  ];
}

/** The events that take a part clients were told to the snapshot's version of it, if that is further on. */
function diffPart(mirroredPart: Part, part: Part, sessionID: string): EventPayload[] {
  const mirrored = storedPart(mirroredPart);
  // REST may keep a running tool's `raw` too (1.14.48 keeps it empty): compared as stored on both sides.
  if (sameJson(mirrored, storedPart(part))) return [];
  const standing = partStanding(mirrored, part);
  if (standing === "behind") return []; // the snapshot is behind the deltas, or the tool's progress
  const text = part.text;
  if (
    standing !== "ahead" ||
    !streamsText(part) ||
    typeof text !== "string" ||
    typeof mirrored.text !== "string"
  )
    return [partUpdated(sessionID, part)];
  const before = mirrored.text;
  const out: EventPayload[] = [];
  if (text.length > before.length) {
    out.push(
      event("message.part.delta", {
        sessionID,
        messageID: part.messageID,
        partID: part.id,
        field: "text",
        delta: text.slice(before.length),
      }),
    );
  }
  // Text that only grew and nothing else changed: the deltas say it all, as upstream's do.
  if (!sameJson({ ...mirrored, text }, part)) out.push(partUpdated(sessionID, part));
  return out;
}

function partUpdated(sessionID: string, part: Part): EventPayload {
  return event("message.part.updated", { sessionID, part, time: Date.now() });
}

/**
 * A part seen for the first time. An assistant's text still being written starts empty
 * and arrives as a delta, as upstream sends it.
 */
function newPart(sessionID: string, part: Part, role: string): EventPayload[] {
  const streaming =
    role === "assistant" &&
    streamsText(part) &&
    typeof part.text === "string" &&
    part.time?.end === undefined;
  if (!streaming || !part.text) return [partUpdated(sessionID, part)];
  return [partUpdated(sessionID, { ...part, text: "" }), ...diffPart({ ...part, text: "" }, part, sessionID)];
}

export interface MessageSnapshot {
  sessionID: string;
  /** The newest messages, oldest first: a known message missing from their span was removed. */
  messages: MessageWithParts[];
  /** Every message of the session (not the newest page only): any known one missing was removed. */
  complete: boolean;
}

export interface MessageDiff {
  events: EventPayload[];
  /** Messages that were there before the shim knew the session's messages: to take in silently. */
  history: MessageWithParts[];
}

/**
 * message.updated / message.removed / message.part.updated / message.part.removed and
 * message.part.delta for text that grew. A message clients were never told of, created up
 * to `historyUntil`, was there before the shim looked: history, not news.
 */
export function diffMessages(
  state: InstanceView,
  snapshot: MessageSnapshot,
  since: number,
  historyUntil: number,
): MessageDiff {
  const { sessionID } = snapshot;
  const mirrored = state.messages.get(sessionID);
  const events: EventPayload[] = [];
  const history: MessageWithParts[] = [];
  const seen = new Set<string>();
  for (const message of snapshot.messages) {
    const { info } = message;
    seen.add(info.id);
    const entry = mirrored?.messages.get(info.id);
    if (!entry) {
      if (info.time.created <= historyUntil) {
        history.push(message);
        continue;
      }
      events.push(event("message.updated", { sessionID, info }));
      for (const part of message.parts) events.push(...newPart(sessionID, part, info.role));
      continue;
    }
    if (entry.info && !entry.info.value) continue; // removed after the listing was made
    // Only parts of it were told: the message itself is news, and goes before them.
    const untold = entry.info === undefined;
    if (untold) events.push(event("message.updated", { sessionID, info }));
    const parts = new Set<string>();
    for (const part of message.parts) {
      parts.add(part.id);
      const tracked = entry.parts.get(part.id);
      if (newerThanSnapshot(tracked, since)) continue;
      if (!tracked) events.push(...newPart(sessionID, part, info.role));
      else if (tracked.value) events.push(...diffPart(tracked.value, part, sessionID));
    }
    for (const [partID, tracked] of entry.parts) {
      if (!tracked.value || parts.has(partID) || newerThanSnapshot(tracked, since)) continue;
      events.push(event("message.part.removed", { sessionID, messageID: info.id, partID }));
    }
    // The message's own update goes after its parts: a completed message follows its last part.
    if (!untold && !newerThanSnapshot(entry.info, since) && !sameJson(entry.info?.value, info)) {
      events.push(event("message.updated", { sessionID, info }));
    }
  }
  // A message told before that the listing no longer holds, within the span it covers, was removed.
  const oldest = snapshot.messages.reduce(
    (min, { info }) => Math.min(min, info.time.created),
    snapshot.complete ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY,
  );
  for (const [messageID, entry] of mirrored?.messages ?? []) {
    const info = entry.info?.value;
    if (!info || seen.has(messageID) || info.time.created < oldest || newerThanSnapshot(entry.info, since))
      continue;
    events.push(event("message.removed", { sessionID, messageID }));
  }
  return { events, history };
}

export interface RequestDiffOptions {
  asked: string;
  /** The event for a request that is no longer pending; undefined to wait until that can be told. */
  settled: (request: PendingRequest) => EventPayload | undefined;
}

/** permission.asked/replied, question.asked/replied/rejected: `pending` is the complete list. */
export function diffRequests(
  mirrored: ReadonlyMap<string, Tracked<PendingRequest>>,
  pending: PendingRequest[],
  since: number,
  options: RequestDiffOptions,
): EventPayload[] {
  const out: EventPayload[] = [];
  const ids = new Set<string>();
  for (const request of pending) {
    ids.add(request.id);
    if (mirrored.has(request.id)) continue;
    out.push(event(options.asked, request));
  }
  for (const [id, tracked] of mirrored) {
    if (!tracked.value || ids.has(id) || newerThanSnapshot(tracked, since)) continue;
    const settled = options.settled(tracked.value);
    if (settled) out.push(settled);
  }
  return out;
}

/** todo.updated, session.diff: one whole list per session. */
export function diffList(
  mirrored: Tracked<unknown[]> | undefined,
  list: unknown[],
  since: number,
  type: "todo.updated" | "session.diff",
  sessionID: string,
): EventPayload[] {
  if (newerThanSnapshot(mirrored, since)) return [];
  if (sameJson(mirrored?.value ?? [], list)) return [];
  return [event(type, type === "todo.updated" ? { sessionID, todos: list } : { sessionID, diff: list })];
}
