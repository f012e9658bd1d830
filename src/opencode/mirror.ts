import type { Update } from "../hub/update.js";
import { eventKind, propertiesOf } from "./events.js";
import { InstanceState, type InstanceView } from "./instance-state.js";
import type { MessageWithParts, PendingRequest, SessionInfo, SessionStatus } from "./state.js";

/** What a read of upstream finds that was there before clients were told anything of it: taken in, not announced. */
export interface History {
  sessions?: SessionInfo[];
  /** `GET /session/status`: the sessions that are not idle. */
  statuses?: Record<string, SessionStatus>;
  permissions?: PendingRequest[];
  questions?: PendingRequest[];
  messages?: Array<{ sessionID: string; messages: MessageWithParts[] }>;
  project?: string;
  /** This is the instance's first read: every session older than it is known from now on. */
  baseline?: boolean;
}

/** What clients were told, to read: each instance's state, and the newest update's number. */
export interface MirrorView {
  instance(directory: string): InstanceView;
  /** The newest update's number: whatever is told after a read began is newer than the read. */
  readonly lastSeq: number;
}

/** What clients were told of an instance the mirror keeps nothing of: nothing. Never changed. */
const NOTHING_TOLD: InstanceView = new InstanceState();

/**
 * The latest known state of every instance — what clients have been told — kept current
 * by every update the hub accepts (`apply`, called by the sink only, which reads the
 * event table for what each type changes), plus what the reconciler takes in as history
 * (`takeInHistory`). Nothing else changes it; everyone else reads it as a `MirrorView`.
 */
export class Mirror implements MirrorView {
  private readonly instances = new Map<string, InstanceState>();
  private newestSeq = 0;

  get lastSeq(): number {
    return this.newestSeq;
  }

  /** Instances whose state is kept. */
  get size(): number {
    return this.instances.size;
  }

  /** Reading keeps nothing: an instance is kept from its first update or history on. */
  instance(directory: string): InstanceView {
    return this.instances.get(directory) ?? NOTHING_TOLD;
  }

  apply(
    update: Pick<Update, "directory" | "payload" | "seq" | "project" | "origin" | "asOf">,
    at = Date.now(),
  ): void {
    const state = this.stateOf(update.directory);
    state.changedAt = at;
    if (update.project) state.project = update.project;
    if (update.seq > this.newestSeq) this.newestSeq = update.seq;
    const corrected = update.origin === "reconciler" ? true : undefined;
    eventKind(update.payload.type)?.apply?.(state, propertiesOf(update.payload), {
      seq: update.seq,
      at,
      corrected,
      asOf: update.asOf,
    });
  }

  /** What was there before anyone was told: taken in silently, only where nothing newer is known. */
  takeInHistory(directory: string, history: History): void {
    const state = this.stateOf(directory);
    const seq = this.newestSeq;
    state.project ??= history.project;
    for (const info of history.sessions ?? []) {
      state.announcedSessions.add(info.id);
      state.noteParent(info);
      if (!state.sessions.has(info.id)) state.sessions.set(info.id, { value: info, seq });
    }
    for (const [sessionID, status] of Object.entries(history.statuses ?? {}))
      if (!state.statuses.has(sessionID)) state.statuses.set(sessionID, { value: status, seq });
    for (const request of history.permissions ?? [])
      if (!state.permissions.has(request.id)) state.permissions.set(request.id, { value: request, seq });
    for (const request of history.questions ?? [])
      if (!state.questions.has(request.id)) state.questions.set(request.id, { value: request, seq });
    for (const { sessionID, messages } of history.messages ?? []) {
      const known = state.messagesOf(sessionID);
      for (const { info, parts } of messages) {
        if (known.messages.has(info.id)) continue;
        known.messages.set(info.id, {
          info: { value: info, seq },
          parts: new Map(parts.map((part) => [part.id, { value: part, seq }])),
        });
      }
    }
    if (history.baseline) state.hasBaseline = true;
  }

  /** Lets go of what clients were told of an instance nobody follows any more. */
  forget(directory: string): void {
    this.instances.delete(directory);
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
