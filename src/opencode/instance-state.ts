import type { MessageInfo, Part, PendingRequest, SessionInfo, SessionStatus } from "./state.js";

/** When an update set a value: its hub sequence number, this machine's clock, and whether the reconciler set it. */
export interface Stamp {
  seq: number;
  /** This machine's clock, as upstream's own times are. */
  at?: number;
  /** The reconciler set it, not upstream's stream. */
  corrected?: boolean;
  /**
   * A correction's word is as of this moment (upstream's clock), earlier than `at`; for a
   * `session.idle`, when the answer whose turn it ends completed.
   */
  asOf?: number;
}

/**
 * A value and the stamp of the update that last set it. `value` undefined is a tombstone:
 * the thing was deleted then, and an older snapshot must not revive it.
 */
export interface Tracked<T> extends Stamp {
  value: T | undefined;
}

export interface MessageEntry {
  /** Undefined while only parts of the message were told (a stream that lost the message itself). */
  info?: Tracked<MessageInfo>;
  parts: Map<string, Tracked<Part>>;
}

/** What clients were told of a session's messages. */
export interface SessionMessages {
  messages: Map<string, MessageEntry>;
  /** The sequence number of the last change, to let go of the messages of long-quiet sessions first. */
  lastChange: number;
}

/** An instance's state as clients were told it, to read, never to change. */
export interface InstanceView {
  readonly sessions: ReadonlyMap<string, Tracked<SessionInfo>>;
  readonly statuses: ReadonlyMap<string, Tracked<SessionStatus>>;
  /** Each session's last `session.idle`: told apart from its status, which a stream may carry without it. */
  readonly idles: ReadonlyMap<string, Tracked<true>>;
  /**
   * The session's recent `session.idle`s as clients were told them, oldest first: the ledger
   * of turn ends told, which the reconciler matches with the turns REST shows.
   */
  idlesTold(sessionID: string): readonly IdleTold[];
  readonly messages: ReadonlyMap<string, SessionMessages>;
  readonly permissions: ReadonlyMap<string, Tracked<PendingRequest>>;
  readonly questions: ReadonlyMap<string, Tracked<PendingRequest>>;
  readonly todos: ReadonlyMap<string, Tracked<unknown[]>>;
  readonly diffs: ReadonlyMap<string, Tracked<unknown[]>>;
  readonly project: string | undefined;
  /** Whether the reconciler's first read (the baseline) has been taken in: every session older than it is known. */
  readonly hasBaseline: boolean;
  /** When clients were last told a change of the instance (ms, this machine's clock; 0 when never). */
  readonly changedAt: number;
  /** Whether clients were told the session exists: its session.created, or it was there before them. */
  announced(sessionID: string): boolean;
  session(sessionID: string): SessionInfo | undefined;
  /** The session a session was started from (a subagent's caller), as far as clients were told; kept after either is deleted. */
  parentOf(sessionID: string): string | undefined;
  /** Sessions that are busy or retrying. */
  activeSessions(): string[];
  /**
   * Up to when (upstream's clock: the newest message's creation) clients were told the
   * session's messages before they were let go to bound memory (0 if never): an older
   * message read again is no news.
   */
  messagesLetGoUntil(sessionID: string): number;
  /** Whether clients were told the session went busy after the last `session.idle` they were told. */
  turnOpen(sessionID: string): boolean;
  /**
   * Whether clients were told an idle status after the last `session.idle` they were told: a
   * turn's end whose `session.idle` never came (a lossy stream carried the one, lost the other).
   */
  idleStatusUnpaired(sessionID: string): boolean;
  /** A message as clients were told it. */
  message(sessionID: string, messageID: string): MessageEntry | undefined;
  /** The tool call a permission or question belongs to, as far as it is known. */
  toolPartOf(request: PendingRequest): Part | undefined;
}

/** A `session.idle` clients were told. */
export interface IdleTold {
  /** When (this machine's clock, as upstream's own times are). */
  at: number;
  /** The end of which turn, when a correction told it: when the turn's answer completed (upstream's clock). */
  ends?: number | undefined;
}

/** Sessions whose messages are kept per instance: the recently active ones. */
const SESSIONS_WITH_MESSAGES = 64;
/** Turn ends kept per session: more than a read's window of messages holds turns. */
const IDLES_KEPT = 32;

/** The state of one instance (one directory) as clients were told it. Changed by the mirror only. */
export class InstanceState implements InstanceView {
  readonly sessions = new Map<string, Tracked<SessionInfo>>();
  readonly statuses = new Map<string, Tracked<SessionStatus>>();
  readonly idles = new Map<string, Tracked<true>>();
  /** Each session's last busy (or retrying) status: the sequence number it was told at. */
  readonly busyAt = new Map<string, number>();
  /** Each session's last idle status: the sequence number it was told at. */
  readonly idleStatusAt = new Map<string, number>();
  readonly messages = new Map<string, SessionMessages>();
  readonly permissions = new Map<string, Tracked<PendingRequest>>();
  readonly questions = new Map<string, Tracked<PendingRequest>>();
  readonly todos = new Map<string, Tracked<unknown[]>>();
  readonly diffs = new Map<string, Tracked<unknown[]>>();
  project: string | undefined;
  hasBaseline = false;
  changedAt = 0;
  /** Sessions whose creation clients were told, or that were there before them. */
  readonly announcedSessions = new Set<string>();
  /** Each child session's parent (see `parentOf`): never tombstoned, so a deleted session's events still find their followers. */
  readonly parents = new Map<string, string>();
  /** See `messagesLetGoUntil`. */
  private readonly letGoUntil = new Map<string, number>();
  /** See `idlesTold`. */
  private readonly idleLedger = new Map<string, IdleTold[]>();

  announced(sessionID: string): boolean {
    return this.announcedSessions.has(sessionID);
  }

  session(sessionID: string): SessionInfo | undefined {
    return this.sessions.get(sessionID)?.value;
  }

  parentOf(sessionID: string): string | undefined {
    return this.parents.get(sessionID);
  }

  /** Takes in a session's parent, when it has one. */
  noteParent(info: SessionInfo): void {
    if (typeof info.parentID === "string" && info.parentID !== info.id)
      this.parents.set(info.id, info.parentID);
  }

  statusOf(sessionID: string): SessionStatus {
    return this.statuses.get(sessionID)?.value ?? { type: "idle" };
  }

  activeSessions(): string[] {
    const out: string[] = [];
    for (const [sessionID, status] of this.statuses) {
      if (status.value && status.value.type !== "idle") out.push(sessionID);
    }
    return out;
  }

  idlesTold(sessionID: string): readonly IdleTold[] {
    return this.idleLedger.get(sessionID) ?? [];
  }

  /** A `session.idle` clients were told, into the session's ledger. */
  toldIdle(sessionID: string, idle: IdleTold): void {
    let ledger = this.idleLedger.get(sessionID);
    if (!ledger) {
      ledger = [];
      this.idleLedger.set(sessionID, ledger);
    }
    ledger.push(idle);
    if (ledger.length > IDLES_KEPT) ledger.shift();
  }

  messagesLetGoUntil(sessionID: string): number {
    return this.letGoUntil.get(sessionID) ?? 0;
  }

  turnOpen(sessionID: string): boolean {
    return (this.busyAt.get(sessionID) ?? -1) > (this.idles.get(sessionID)?.seq ?? -1);
  }

  idleStatusUnpaired(sessionID: string): boolean {
    return (this.idleStatusAt.get(sessionID) ?? -1) > (this.idles.get(sessionID)?.seq ?? -1);
  }

  message(sessionID: string, messageID: string): MessageEntry | undefined {
    return this.messages.get(sessionID)?.messages.get(messageID);
  }

  toolPartOf(request: PendingRequest): Part | undefined {
    const { messageID, callID } = request.tool ?? {};
    const entry = messageID ? this.message(request.sessionID, messageID) : undefined;
    for (const tracked of entry?.parts.values() ?? []) {
      if (tracked.value?.callID === callID) return tracked.value;
    }
    return undefined;
  }

  /** A session's messages, kept from now on (the quietest session's are let go when too many are kept). */
  messagesOf(sessionID: string): SessionMessages {
    let messages = this.messages.get(sessionID);
    if (!messages) {
      if (this.messages.size >= SESSIONS_WITH_MESSAGES) this.forgetQuietestMessages();
      messages = { messages: new Map(), lastChange: 0 };
      this.messages.set(sessionID, messages);
    }
    return messages;
  }

  /** A message clients were told of (or of a part of), marking its session changed at `seq`. */
  changedMessage(
    sessionID: string | undefined,
    messageID: string | undefined,
    seq: number,
  ): MessageEntry | undefined {
    if (!sessionID || !messageID) return undefined;
    const messages = this.messages.get(sessionID);
    if (messages) messages.lastChange = seq;
    return messages?.messages.get(messageID);
  }

  /** Everything clients were told of a session, gone with it. */
  forgetSession(sessionID: string): void {
    this.announcedSessions.delete(sessionID);
    this.statuses.delete(sessionID);
    this.idles.delete(sessionID);
    this.idleLedger.delete(sessionID);
    this.busyAt.delete(sessionID);
    this.idleStatusAt.delete(sessionID);
    this.messages.delete(sessionID);
    this.letGoUntil.delete(sessionID);
    this.todos.delete(sessionID);
    this.diffs.delete(sessionID);
  }

  /**
   * Lets go of the messages of the session quiet the longest (never a busy one), keeping
   * how far they went. Should it wake up, its messages are kept again from its next update,
   * as for any session; those it had then are no news when read again.
   */
  private forgetQuietestMessages(): void {
    let quietest: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [sessionID, messages] of this.messages) {
      if (this.statusOf(sessionID).type !== "idle") continue;
      if (messages.lastChange < oldest) {
        oldest = messages.lastChange;
        quietest = sessionID;
      }
    }
    if (quietest === undefined) return;
    let newest = this.messagesLetGoUntil(quietest);
    for (const entry of this.messages.get(quietest)?.messages.values() ?? [])
      newest = Math.max(newest, entry.info?.value?.time.created ?? 0);
    this.letGoUntil.set(quietest, newest);
    this.messages.delete(quietest);
  }
}
