import type { EventPayload } from "../../hub/update.js";

interface Withheld {
  /** Since when (`performance.now()`) reads have withheld it. */
  since: number;
  /** How far clients were told the session's messages at the last read (a hub sequence number). */
  toldUntil: number;
}

/**
 * Turn ends that reads withheld while upstream's stream was still telling their sessions'
 * messages (`stillMoving` in corrections.ts): the stream may yet carry their last words
 * before the end. Each is looked at again a grace period on, not at the backed-off pace of
 * reads; and once it has waited a grace period, and the stream has told nothing of its
 * session since the last look, it goes out without waiting the grace again (behind a stream
 * a second late, an end would otherwise wait one grace per read).
 */
export class WithheldEnds {
  private readonly ends = new Map<string, Withheld>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly graceMs: number,
    /** How far clients were told the session's messages (a hub sequence number). */
    private readonly toldUntil: (sessionID: string) => number,
    /** Reads the sessions' messages and the statuses again. */
    private readonly lookAgain: (sessions: string[]) => void,
  ) {}

  /** Whether `events` are only withheld ends that have had their grace, the stream quiet on their sessions since. */
  waitedFor(events: EventPayload[]): boolean {
    const waitedSince = performance.now() - this.graceMs;
    return events.every((payload) => {
      const sessionID = endOfTurn(payload);
      const withheld = sessionID === undefined ? undefined : this.ends.get(sessionID);
      return (
        withheld !== undefined &&
        withheld.since <= waitedSince &&
        withheld.toldUntil === this.toldUntil(sessionID as string)
      );
    });
  }

  /** After a read: the sessions whose ends it withheld (the others are no longer). */
  note(sessions: string[]): void {
    for (const sessionID of this.ends.keys()) if (!sessions.includes(sessionID)) this.ends.delete(sessionID);
    const now = performance.now();
    for (const sessionID of sessions) {
      const since = this.ends.get(sessionID)?.since ?? now;
      this.ends.set(sessionID, { since, toldUntil: this.toldUntil(sessionID) });
    }
    if (sessions.length === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lookAgain([...this.ends.keys()]);
    }, this.graceMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The session whose turn `payload` ends: a `session.idle`, or the idle `session.status` before it. */
function endOfTurn(payload: EventPayload): string | undefined {
  const { sessionID, status } = payload.properties as { sessionID?: string; status?: { type?: string } };
  const ends =
    payload.type === "session.idle" || (payload.type === "session.status" && status?.type === "idle");
  return ends ? sessionID : undefined;
}
