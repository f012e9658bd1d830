import {
  isObject,
  type MessageInfo,
  type MessageWithParts,
  type Part,
  type PendingRequest,
  type SessionInfo,
  type SessionStatus,
} from "./state.js";
import type { EventPayload } from "./update.js";

/**
 * A value and the hub sequence number of the update that last set it. `value` undefined
 * is a tombstone: the thing was deleted then, and an older snapshot must not revive it.
 */
export interface Tracked<T> {
  value: T | undefined;
  seq: number;
}

export interface MessageEntry {
  info: Tracked<MessageInfo>;
  parts: Map<string, Tracked<Part>>;
}

/** What the shim knows of a session's messages. */
export interface SessionMessages {
  messages: Map<string, MessageEntry>;
  /** The sequence number of the last change, to let go of the books of long-quiet sessions first. */
  touched: number;
  /**
   * Messages created at or before this upstream time were there before the shim looked:
   * history to adopt silently, not news to announce.
   */
  historyUntil: number;
}

/** Sessions whose messages are kept per instance: the recently active ones. */
const MESSAGE_BOOKS = 64;

/** The latest known state of one instance (one directory), as events have told it. */
export class InstanceState {
  readonly sessions = new Map<string, Tracked<SessionInfo>>();
  readonly statuses = new Map<string, Tracked<SessionStatus>>();
  readonly messages = new Map<string, SessionMessages>();
  readonly permissions = new Map<string, Tracked<PendingRequest>>();
  readonly questions = new Map<string, Tracked<PendingRequest>>();
  readonly todos = new Map<string, Tracked<unknown[]>>();
  readonly diffs = new Map<string, Tracked<unknown[]>>();
  /** Sessions any event has been about since the reconciler last looked at them. */
  readonly recentlyActive = new Set<string>();
  project: string | undefined;
  /** Whether a first look at upstream has been taken in: every session older than that is known. */
  adopted = false;

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

  /** The message book of a session, created with `historyUntil` when it does not exist yet. */
  messagesOf(sessionID: string, historyUntil: number): SessionMessages {
    let book = this.messages.get(sessionID);
    if (!book) {
      if (this.messages.size >= MESSAGE_BOOKS) this.forgetQuietestBook();
      book = { messages: new Map(), historyUntil, touched: 0 };
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

  /*
   * Adopting: what a first look at upstream finds is history, taken in silently — only
   * what is not known already (a live stream may have told more, and more recently).
   */

  adoptSessions(sessions: SessionInfo[], seq: number): void {
    for (const info of sessions)
      if (!this.sessions.has(info.id)) this.sessions.set(info.id, { value: info, seq });
  }

  adoptStatuses(statuses: Record<string, SessionStatus>, seq: number): void {
    for (const [sessionID, status] of Object.entries(statuses)) {
      if (!this.statuses.has(sessionID)) this.statuses.set(sessionID, { value: status, seq });
    }
  }

  adoptRequests(known: Map<string, Tracked<PendingRequest>>, pending: PendingRequest[], seq: number): void {
    for (const request of pending) if (!known.has(request.id)) known.set(request.id, { value: request, seq });
  }

  adoptMessages(sessionID: string, messages: MessageWithParts[], seq: number): void {
    const newest = messages.reduce((max, message) => Math.max(max, message.info.time.created), 0);
    const book = this.messagesOf(sessionID, newest);
    for (const { info, parts } of messages) {
      if (book.messages.has(info.id)) continue;
      book.messages.set(info.id, {
        info: { value: info, seq },
        parts: new Map(parts.map((part) => [part.id, { value: part, seq }])),
      });
    }
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

  /** The newest `time.updated` of the sessions known: where an incremental listing resumes. */
  newestSessionUpdate(): number {
    let newest = 0;
    for (const tracked of this.sessions.values()) {
      const updated = tracked.value?.time.updated ?? 0;
      if (updated > newest) newest = updated;
    }
    return newest;
  }
}

function props(payload: EventPayload): Record<string, unknown> {
  return isObject(payload.properties) ? payload.properties : {};
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * The latest known state of every instance, kept current by every event that passes
 * through the hub, whichever source it came from. The reconciler compares upstream's
 * REST snapshots against it.
 */
export class Mirror {
  private readonly instances = new Map<string, InstanceState>();

  instance(directory: string): InstanceState {
    let state = this.instances.get(directory);
    if (!state) {
      state = new InstanceState();
      this.instances.set(directory, state);
    }
    return state;
  }

  peek(directory: string): InstanceState | undefined {
    return this.instances.get(directory);
  }

  /**
   * The session an update announces, when nothing ever announced it: its instance has had
   * its first look, and the session is unknown, so it was created since and its
   * `session.created` was lost (with a stream that broke, say). Undefined otherwise.
   */
  unannouncedSession(directory: string, payload: EventPayload): SessionInfo | undefined {
    if (payload.type !== "session.updated") return undefined;
    const state = this.instances.get(directory);
    if (!state?.adopted) return undefined;
    const info = props(payload).info as SessionInfo | undefined;
    const id = str(info?.id);
    return id && info && !state.sessions.has(id) ? info : undefined;
  }

  apply(directory: string, payload: EventPayload, seq: number, project?: string): void {
    const state = this.instance(directory);
    if (project) state.project = project;
    const p = props(payload);
    const sessionID = str(p.sessionID);
    if (sessionID) state.recentlyActive.add(sessionID);
    switch (payload.type) {
      case "session.created":
      case "session.updated": {
        const info = p.info as SessionInfo | undefined;
        const id = str(info?.id) ?? sessionID;
        if (id && info) state.sessions.set(id, { value: info, seq });
        return;
      }
      case "session.deleted": {
        const id = str((p.info as SessionInfo | undefined)?.id) ?? sessionID;
        if (!id) return;
        state.sessions.set(id, { value: undefined, seq });
        state.statuses.delete(id);
        state.messages.delete(id);
        state.todos.delete(id);
        state.diffs.delete(id);
        return;
      }
      case "session.status":
        if (sessionID && isObject(p.status))
          state.statuses.set(sessionID, { value: p.status as SessionStatus, seq });
        return;
      case "session.idle":
        if (sessionID) state.statuses.set(sessionID, { value: { type: "idle" }, seq });
        return;
      case "session.diff":
        if (sessionID && Array.isArray(p.diff)) state.diffs.set(sessionID, { value: p.diff, seq });
        return;
      case "todo.updated":
        if (sessionID && Array.isArray(p.todos)) state.todos.set(sessionID, { value: p.todos, seq });
        return;
      case "message.updated": {
        const info = p.info as MessageInfo | undefined;
        if (!info || !sessionID || !str(info.id)) return;
        const book = state.messagesOf(sessionID, info.time.created - 1);
        book.touched = seq;
        const entry = book.messages.get(info.id);
        if (entry) entry.info = { value: info, seq };
        else book.messages.set(info.id, { info: { value: info, seq }, parts: new Map() });
        return;
      }
      case "message.removed": {
        const entry = this.entryFor(state, sessionID, str(p.messageID), seq);
        if (!entry) return;
        entry.info = { value: undefined, seq };
        entry.parts.clear();
        return;
      }
      case "message.part.updated": {
        const part = p.part as Part | undefined;
        if (!part || !str(part.id) || !str(part.messageID)) return;
        const entry = this.entryFor(state, part.sessionID ?? sessionID, part.messageID, seq);
        entry?.parts.set(part.id, { value: part, seq });
        return;
      }
      case "message.part.removed": {
        const partID = str(p.partID);
        const entry = this.entryFor(state, sessionID, str(p.messageID), seq);
        if (entry && partID) entry.parts.set(partID, { value: undefined, seq });
        return;
      }
      case "message.part.delta": {
        const field = str(p.field);
        const delta = str(p.delta);
        const partID = str(p.partID);
        const entry = this.entryFor(state, sessionID, str(p.messageID), seq);
        const tracked = partID ? entry?.parts.get(partID) : undefined;
        const part = tracked?.value;
        if (!tracked || !part || !field || delta === undefined) return;
        const current = part[field];
        tracked.value = { ...part, [field]: (typeof current === "string" ? current : "") + delta };
        tracked.seq = seq;
        return;
      }
      case "permission.asked":
        if (str(p.id)) state.permissions.set(p.id as string, { value: p as PendingRequest, seq });
        return;
      case "permission.replied": {
        const id = str(p.requestID) ?? str(p.permissionID);
        if (id) state.permissions.set(id, { value: undefined, seq });
        return;
      }
      case "question.asked":
        if (str(p.id)) state.questions.set(p.id as string, { value: p as PendingRequest, seq });
        return;
      case "question.replied":
      case "question.rejected": {
        const id = str(p.requestID);
        if (id) state.questions.set(id, { value: undefined, seq });
        return;
      }
    }
  }

  private entryFor(
    state: InstanceState,
    sessionID: string | undefined,
    messageID: string | undefined,
    seq: number,
  ) {
    if (!sessionID || !messageID) return undefined;
    const book = state.messages.get(sessionID);
    if (book) book.touched = seq;
    return book?.messages.get(messageID);
  }
}
