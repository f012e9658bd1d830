import type { InstanceView, Tracked } from "./mirror.js";
import type { MessageInfo, Part, SessionInfo } from "./state.js";
import { type EventPayload, propertiesOf } from "./update.js";

/**
 * What the sink knows of opencode's events beyond their ids: the announcements a client
 * needs that no one sent, and the events that only say again what clients were told.
 */

export const INSTANCE_DISPOSED = "server.instance.disposed";

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * The session an update announces, when nothing ever announced it: its instance has had
 * its first look, and clients were never told of the session, so it was created since and
 * its `session.created` was lost (with a stream that broke, say). Undefined otherwise.
 */
export function unannouncedSession(state: InstanceView, payload: EventPayload): SessionInfo | undefined {
  if (payload.type !== "session.updated" || !state.looked) return undefined;
  const info = propertiesOf(payload).info as SessionInfo | undefined;
  const id = str(info?.id);
  return id && info && !state.announced(id) ? info : undefined;
}

/**
 * How late upstream's stream may carry what REST showed and still count as having told
 * it: a stream later than this is lying (the sources judge it so, and hold its events
 * back from then on).
 */
export const LATE_MS = 3_000;

/**
 * How long after a correction the stream's events about the same thing are late news.
 * Longer than `LATE_MS`, so that a stream found lying is held back before the window ends.
 */
const STALE_MS = 2 * LATE_MS;

const TOOL_PROGRESS: Record<string, number> = { pending: 0, running: 1, completed: 2, error: 2 };

/** Whether a part as the stream tells it is further on than the part a correction gave. */
function partAhead(corrected: Part, streamed: Part): boolean {
  if (
    typeof corrected.text === "string" &&
    typeof streamed.text === "string" &&
    streamed.text !== corrected.text
  )
    return streamed.text.startsWith(corrected.text);
  const before = TOOL_PROGRESS[corrected.state?.status ?? ""];
  const after = TOOL_PROGRESS[streamed.state?.status ?? ""];
  if (before !== undefined && after !== undefined && after !== before) return after > before;
  return corrected.time?.end === undefined && streamed.time?.end !== undefined;
}

/**
 * Whether an event of upstream's stream comes late, after the reconciler already told
 * clients the state of the same thing (within `STALE_MS` of that correction): it says the
 * same again, or something older — or a text delta of a part the reconciler gave whole.
 * Only what the stream says further on (a session updated since, a part grown since) is
 * news. Things the reconciler did not set pass as they are, so an honest stream's own
 * repeats go out untouched.
 */
export function staleAfterCorrection(state: InstanceView, payload: EventPayload, now: number): boolean {
  const p = propertiesOf(payload);
  const sessionID = str(p.sessionID) ?? "";
  const fresh = (tracked: Tracked<unknown> | undefined) =>
    tracked?.corrected === true && now - (tracked.at ?? 0) < STALE_MS;
  switch (payload.type) {
    case "session.created":
    case "session.updated": {
      const info = p.info as SessionInfo | undefined;
      const tracked = state.sessions.get(str(info?.id) ?? "");
      if (!fresh(tracked)) return false;
      return !info || (tracked?.value !== undefined && info.time.updated <= tracked.value.time.updated);
    }
    case "message.updated": {
      const info = p.info as MessageInfo | undefined;
      const tracked = state.messages.get(sessionID)?.messages.get(str(info?.id) ?? "")?.info;
      if (!fresh(tracked)) return false;
      const completedNow = tracked?.value?.time.completed === undefined && info?.time.completed !== undefined;
      return !completedNow;
    }
    case "message.part.updated": {
      const part = p.part as Part | undefined;
      const book = state.messages.get(str(part?.sessionID) ?? sessionID);
      const tracked = book?.messages.get(str(part?.messageID) ?? "")?.parts.get(str(part?.id) ?? "");
      if (!fresh(tracked)) return false;
      return !part || tracked?.value === undefined || !partAhead(tracked.value, part);
    }
    case "message.part.delta": {
      const book = state.messages.get(sessionID);
      const tracked = book?.messages.get(str(p.messageID) ?? "")?.parts.get(str(p.partID) ?? "");
      // A delta after the whole text (REST stores a part's text once it is done) is late.
      return fresh(tracked) && tracked?.value?.time?.end !== undefined;
    }
    case "session.deleted":
      return fresh(state.sessions.get(str((p.info as SessionInfo | undefined)?.id) ?? sessionID));
    case "session.status":
      // A status has no order of its own: a late one is told apart by the sources (`StreamRecord.behindOn`).
      return false;
    case "session.idle":
      // A session.idle after the one a correction told, with no busy told since, says it again.
      return fresh(state.idles.get(sessionID)) && !state.idleOwed(sessionID);
    case "session.diff":
      return fresh(state.diffs.get(sessionID));
    case "todo.updated":
      return fresh(state.todos.get(sessionID));
    case "message.removed":
      return fresh(state.messages.get(sessionID)?.messages.get(str(p.messageID) ?? "")?.info);
    case "message.part.removed":
      return fresh(
        state.messages
          .get(sessionID)
          ?.messages.get(str(p.messageID) ?? "")
          ?.parts.get(str(p.partID) ?? ""),
      );
    case "permission.asked":
    case "question.asked":
      return fresh(
        (payload.type === "permission.asked" ? state.permissions : state.questions).get(str(p.id) ?? ""),
      );
    case "permission.replied":
      return fresh(state.permissions.get(str(p.requestID) ?? str(p.permissionID) ?? ""));
    case "question.replied":
    case "question.rejected":
      return fresh(state.questions.get(str(p.requestID) ?? ""));
    default:
      return false;
  }
}

/** How long a second `server.instance.disposed` of an instance counts as the same disposal. */
const SAME_DISPOSAL_MS = 5_000;

/**
 * An instance's disposal can be told twice: by upstream's stream, and by the proxy that
 * saw the call which disposed it. Clients get it once: a disposal soon after another of
 * the same instance is a repeat, unless a new disposing call was seen in between.
 */
export class Disposals {
  private readonly told = new Map<string, number>();

  /** A call that disposes `directory` is on its way: its disposal is news, whoever tells it. */
  expect(directory: string): void {
    this.told.delete(directory);
  }

  /** Whether this disposal repeats one told already; if not, it is remembered as told. */
  repeats(directory: string, now: number): boolean {
    const at = this.told.get(directory);
    if (at !== undefined && now - at < SAME_DISPOSAL_MS) return true;
    if (this.told.size > 1000) this.told.clear();
    this.told.set(directory, now);
    return false;
  }
}
