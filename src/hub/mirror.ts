import {
  isObject,
  type MessageInfo,
  type MessageWithParts,
  type Part,
  type PendingRequest,
  type SessionInfo,
  type SessionStatus,
} from "./state.js";
import { propertiesOf, type Update } from "./update.js";

/**
 * A value, the hub sequence number of the update that last set it, and when that was
 * (`at`: this machine's clock, as upstream's own times are). `value` undefined is a
 * tombstone: the thing was deleted then, and an older snapshot must not revive it.
 * `corrected`: the reconciler set it, not upstream's stream.
 */
export interface Tracked<T> {
  value: T | undefined;
  seq: number;
  at?: number;
  corrected?: boolean;
}

interface MessageEntry {
  /** Undefined while only parts of the message were told (a stream that lost the message itself). */
  info?: Tracked<MessageInfo>;
  parts: Map<string, Tracked<Part>>;
}

/** What the shim knows of a session's messages. */
interface SessionMessages {
  messages: Map<string, MessageEntry>;
  /** The sequence number of the last change, to let go of the books of long-quiet sessions first. */
  touched: number;
}

/** What a first look (or a late look at a session) finds that was there before: taken in, not announced. */
export interface History {
  sessions?: SessionInfo[];
  /** `GET /session/status`: the sessions that are not idle. */
  statuses?: Record<string, SessionStatus>;
  permissions?: PendingRequest[];
  questions?: PendingRequest[];
  messages?: Array<{ sessionID: string; messages: MessageWithParts[] }>;
  project?: string;
  /** This is the instance's first look: every session older than it is known from now on. */
  firstLook?: boolean;
}

/** An instance's state as those outside the mirror see it: to read, never to change. */
export interface InstanceView {
  readonly sessions: ReadonlyMap<string, Tracked<SessionInfo>>;
  readonly statuses: ReadonlyMap<string, Tracked<SessionStatus>>;
  /** Each session's last `session.idle`: told apart from its status, which a stream may carry without it. */
  readonly idles: ReadonlyMap<string, Tracked<true>>;
  readonly messages: ReadonlyMap<string, SessionMessages>;
  readonly permissions: ReadonlyMap<string, Tracked<PendingRequest>>;
  readonly questions: ReadonlyMap<string, Tracked<PendingRequest>>;
  readonly todos: ReadonlyMap<string, Tracked<unknown[]>>;
  readonly diffs: ReadonlyMap<string, Tracked<unknown[]>>;
  readonly project: string | undefined;
  /** Whether its first look has been taken in: every session older than that is known. */
  readonly looked: boolean;
  /** Whether clients were told the session exists: its session.created, or it was there before them. */
  announced(sessionID: string): boolean;
  session(sessionID: string): SessionInfo | undefined;
  activeSessions(): string[];
  idleOwed(sessionID: string): boolean;
  toolPartOf(request: PendingRequest): Part | undefined;
}

/** Sessions whose messages are kept per instance: the recently active ones. */
const MESSAGE_BOOKS = 64;

/** The latest known state of one instance (one directory), as events have told it. */
class InstanceState implements InstanceView {
  readonly sessions = new Map<string, Tracked<SessionInfo>>();
  readonly statuses = new Map<string, Tracked<SessionStatus>>();
  readonly idles = new Map<string, Tracked<true>>();
  /** Each session's last busy (or retrying) status: the sequence number it was told at. */
  readonly busyAt = new Map<string, number>();
  readonly messages = new Map<string, SessionMessages>();
  readonly permissions = new Map<string, Tracked<PendingRequest>>();
  readonly questions = new Map<string, Tracked<PendingRequest>>();
  readonly todos = new Map<string, Tracked<unknown[]>>();
  readonly diffs = new Map<string, Tracked<unknown[]>>();
  project: string | undefined;
  looked = false;
  /** Sessions whose creation clients were told, or that were history. */
  readonly announcedSessions = new Set<string>();

  announced(sessionID: string): boolean {
    return this.announcedSessions.has(sessionID);
  }

  session(sessionID: string): SessionInfo | undefined {
    return this.sessions.get(sessionID)?.value;
  }

  statusOf(sessionID: string): SessionStatus {
    return this.statuses.get(sessionID)?.value ?? { type: "idle" };
  }

  /** Sessions that are busy or retrying. */
  activeSessions(): string[] {
    const out: string[] = [];
    for (const [sessionID, status] of this.statuses) {
      if (status.value && status.value.type !== "idle") out.push(sessionID);
    }
    return out;
  }

  /** Whether clients were told the session went busy after the last `session.idle` they were told. */
  idleOwed(sessionID: string): boolean {
    return (this.busyAt.get(sessionID) ?? -1) > (this.idles.get(sessionID)?.seq ?? -1);
  }

  /** The message book of a session, created when it does not exist yet. */
  bookOf(sessionID: string): SessionMessages {
    let book = this.messages.get(sessionID);
    if (!book) {
      if (this.messages.size >= MESSAGE_BOOKS) this.forgetQuietestBook();
      book = { messages: new Map(), touched: 0 };
      this.messages.set(sessionID, book);
    }
    return book;
  }

  /**
   * Lets go of the messages of the session quiet the longest (never a busy one). Should it
   * wake up, its book starts again from its last known update, as for any session.
   */
  private forgetQuietestBook(): void {
    let quietest: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [sessionID, book] of this.messages) {
      if (this.statusOf(sessionID).type !== "idle") continue;
      if (book.touched < oldest) {
        oldest = book.touched;
        quietest = sessionID;
      }
    }
    if (quietest !== undefined) this.messages.delete(quietest);
  }

  /** The tool call a permission or question belongs to, as far as it is known. */
  toolPartOf(request: PendingRequest): Part | undefined {
    const { messageID, callID } = request.tool ?? {};
    const entry = messageID ? this.messages.get(request.sessionID)?.messages.get(messageID) : undefined;
    for (const tracked of entry?.parts.values() ?? []) {
      if (tracked.value?.callID === callID) return tracked.value;
    }
    return undefined;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * The latest known state of every instance — what clients have been told — kept current
 * by every update the hub accepts (`apply`, called by the sink only), plus what the
 * reconciler takes in as history (`takeInHistory`). Nothing else changes it; everyone
 * else reads it through `instance()`.
 */
export class Mirror {
  private readonly instances = new Map<string, InstanceState>();

  instance(directory: string): InstanceView {
    return this.stateOf(directory);
  }

  /** What was there before anyone was told: taken in silently, only where nothing newer is known. */
  takeInHistory(directory: string, history: History, seq: number): void {
    const state = this.stateOf(directory);
    state.project ??= history.project;
    for (const info of history.sessions ?? []) {
      state.announcedSessions.add(info.id);
      if (!state.sessions.has(info.id)) state.sessions.set(info.id, { value: info, seq });
    }
    for (const [sessionID, status] of Object.entries(history.statuses ?? {}))
      if (!state.statuses.has(sessionID)) state.statuses.set(sessionID, { value: status, seq });
    for (const request of history.permissions ?? [])
      if (!state.permissions.has(request.id)) state.permissions.set(request.id, { value: request, seq });
    for (const request of history.questions ?? [])
      if (!state.questions.has(request.id)) state.questions.set(request.id, { value: request, seq });
    for (const { sessionID, messages } of history.messages ?? []) {
      const book = state.bookOf(sessionID);
      for (const { info, parts } of messages) {
        if (book.messages.has(info.id)) continue;
        book.messages.set(info.id, {
          info: { value: info, seq },
          parts: new Map(parts.map((part) => [part.id, { value: part, seq }])),
        });
      }
    }
    if (history.firstLook) state.looked = true;
  }

  apply(update: Pick<Update, "directory" | "payload" | "seq" | "project" | "origin">, at = Date.now()): void {
    const { directory, payload, seq } = update;
    const state = this.stateOf(directory);
    if (update.project) state.project = update.project;
    const corrected = update.origin === "reconciler" ? true : undefined;
    const p = propertiesOf(payload);
    const sessionID = str(p.sessionID);
    switch (payload.type) {
      case "session.created":
      case "session.updated": {
        const info = p.info as SessionInfo | undefined;
        const id = str(info?.id) ?? sessionID;
        if (!id || !info) return;
        state.sessions.set(id, { value: info, seq, at, corrected });
        if (payload.type === "session.created") state.announcedSessions.add(id);
        return;
      }
      case "session.deleted": {
        const id = str((p.info as SessionInfo | undefined)?.id) ?? sessionID;
        if (!id) return;
        state.sessions.set(id, { value: undefined, seq, at, corrected });
        state.announcedSessions.delete(id);
        state.statuses.delete(id);
        state.idles.delete(id);
        state.busyAt.delete(id);
        state.messages.delete(id);
        state.todos.delete(id);
        state.diffs.delete(id);
        return;
      }
      case "session.status":
        if (!sessionID || !isObject(p.status)) return;
        state.statuses.set(sessionID, { value: p.status as SessionStatus, seq, at, corrected });
        if (p.status.type !== "idle") state.busyAt.set(sessionID, seq);
        return;
      case "session.idle":
        if (!sessionID) return;
        state.statuses.set(sessionID, { value: { type: "idle" }, seq, at, corrected });
        state.idles.set(sessionID, { value: true, seq, at, corrected });
        return;
      case "session.diff":
        if (sessionID && Array.isArray(p.diff))
          state.diffs.set(sessionID, { value: p.diff, seq, at, corrected });
        return;
      case "todo.updated":
        if (sessionID && Array.isArray(p.todos))
          state.todos.set(sessionID, { value: p.todos, seq, at, corrected });
        return;
      case "message.updated": {
        const info = p.info as MessageInfo | undefined;
        if (!info || !sessionID || !str(info.id)) return;
        const book = state.bookOf(sessionID);
        book.touched = seq;
        const entry = book.messages.get(info.id);
        if (entry) entry.info = { value: info, seq, at, corrected };
        else book.messages.set(info.id, { info: { value: info, seq, at, corrected }, parts: new Map() });
        return;
      }
      case "message.removed": {
        const entry = entryFor(state, sessionID, str(p.messageID), seq);
        if (!entry) return;
        entry.info = { value: undefined, seq, at, corrected };
        entry.parts.clear();
        return;
      }
      case "message.part.updated": {
        const part = p.part as Part | undefined;
        const partSession = str(part?.sessionID) ?? sessionID;
        if (!part || !str(part.id) || !str(part.messageID) || !partSession) return;
        // A part told before its message (or without it): kept, so that it is not news again later.
        const book = state.bookOf(partSession);
        book.touched = seq;
        let entry = book.messages.get(part.messageID);
        if (!entry) {
          entry = { parts: new Map() };
          book.messages.set(part.messageID, entry);
        }
        entry.parts.set(part.id, { value: part, seq, at, corrected });
        return;
      }
      case "message.part.removed": {
        const partID = str(p.partID);
        const entry = entryFor(state, sessionID, str(p.messageID), seq);
        if (entry && partID) entry.parts.set(partID, { value: undefined, seq, at, corrected });
        return;
      }
      case "message.part.delta": {
        const field = str(p.field);
        const delta = str(p.delta);
        const partID = str(p.partID);
        const entry = entryFor(state, sessionID, str(p.messageID), seq);
        const tracked = partID ? entry?.parts.get(partID) : undefined;
        const part = tracked?.value;
        if (!tracked || !part || !field || delta === undefined) return;
        const current = part[field];
        tracked.value = { ...part, [field]: (typeof current === "string" ? current : "") + delta };
        tracked.seq = seq;
        tracked.at = at;
        return;
      }
      case "permission.asked":
        if (str(p.id))
          state.permissions.set(p.id as string, { value: p as PendingRequest, seq, at, corrected });
        return;
      case "permission.replied": {
        const id = str(p.requestID) ?? str(p.permissionID);
        if (id) state.permissions.set(id, { value: undefined, seq, at, corrected });
        return;
      }
      case "question.asked":
        if (str(p.id))
          state.questions.set(p.id as string, { value: p as PendingRequest, seq, at, corrected });
        return;
      case "question.replied":
      case "question.rejected": {
        const id = str(p.requestID);
        if (id) state.questions.set(id, { value: undefined, seq, at, corrected });
        return;
      }
    }
  }

  private stateOf(directory: string): InstanceState {
    let state = this.instances.get(directory);
    if (!state) {
      state = new InstanceState();
      this.instances.set(directory, state);
    }
    return state;
  }
}

function entryFor(
  state: InstanceState,
  sessionID: string | undefined,
  messageID: string | undefined,
  seq: number,
): MessageEntry | undefined {
  if (!sessionID || !messageID) return undefined;
  const book = state.messages.get(sessionID);
  if (book) book.touched = seq;
  return book?.messages.get(messageID);
}
