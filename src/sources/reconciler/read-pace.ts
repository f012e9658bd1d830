import type { MessageWithParts } from "../../opencode/state.js";

/** The pace an instance's reads keep now (it depends on who feeds clients, and on opencode's log). */
export interface Pace {
  /** Between two cheap reads: the sessions that moved, and while one is busy the statuses. */
  cheapMs: number;
  /** A busy session's messages, after a read that showed a change. */
  firstMs: number;
  /** ...after reads that showed none, backed off (doubling) up to this. */
  capMs: number;
}

/** What a signal of change (a log line, a stream event about something unknown) asks to read. */
export type Signal = "list" | "all-sessions" | "statuses" | "messages" | "requests";

/** What one read covers. */
export interface ReadPlan {
  list: boolean;
  /** Every session listed, not only those that moved: a deletion shows only so. */
  allSessions: boolean;
  statuses: boolean;
  /** Busy sessions whose messages are due (moved ones, and those whose status changed, are added by the read). */
  sessions: Set<string>;
  /** Pending permissions and questions: signalled (read them), due by their pace (read them if any may be waiting), or not. */
  requests: "signalled" | "due" | false;
}

interface Backoff {
  dueAt: number;
  intervalMs: number;
  /** What the last read showed, to tell a change from none. */
  shape?: string;
}

/**
 * When each part of an instance's REST state is read: reads follow change, not time.
 * What is cheap is read at a steady pace, every `cheapMs` whatever the number of sessions
 * — the sessions that moved, and while one is busy the statuses. A busy session's messages
 * (big: tool outputs) are read when something says they changed — a signal, the session
 * moved, its status changed — and otherwise at a pace that backs off, doubling while reads
 * show nothing new, from `firstMs` up to `capMs`. Pending permissions and questions back
 * off the same way.
 *
 * opencode spends most of a request's cost waking up for it (measured on 1.14.48: about
 * 30 ms of CPU for a lone request, 5 ms for each one more in the same burst), so what is
 * nearly due goes along with what is due: up to a quarter of its interval early.
 */
export class ReadPace {
  private cheapDueAt = 0;
  private readonly signalled = new Set<Signal>();
  private readonly sessionsSignalled = new Set<string>();
  private readonly sessions = new Map<string, Backoff>();
  private readonly requests: Backoff = { dueAt: 0, intervalMs: 0 };

  /** Something says this changed: it is read next time, whatever its pace. */
  signal(what: Signal, sessionID?: string): void {
    if (what === "messages" && sessionID !== undefined) this.sessionsSignalled.add(sessionID);
    else this.signalled.add(what);
  }

  /** What is due now, of an instance whose `busy` sessions are those clients were told are busy. */
  plan(now: number, pace: Pace, busy: readonly string[]): ReadPlan {
    const plan: ReadPlan = {
      list: this.signalled.has("list"),
      allSessions: this.signalled.has("all-sessions"),
      statuses: this.signalled.has("statuses"),
      sessions: new Set(),
      requests: this.signalled.has("requests") ? "signalled" : now >= this.requests.dueAt ? "due" : false,
    };
    const allMessages = this.signalled.has("messages");
    // A session no longer busy starts afresh when its next turn begins.
    for (const sessionID of this.sessions.keys())
      if (!busy.includes(sessionID)) this.sessions.delete(sessionID);
    const due = busy.filter(
      (sessionID) =>
        allMessages ||
        this.sessionsSignalled.has(sessionID) ||
        now >= (this.sessions.get(sessionID)?.dueAt ?? 0),
    );
    for (const sessionID of this.sessionsSignalled) if (!due.includes(sessionID)) due.push(sessionID);
    // Something goes out now: what is nearly due goes along.
    const burst = plan.list || plan.statuses || plan.requests === "signalled" || due.length > 0;
    if (nearlyDue(now, this.cheapDueAt, pace.cheapMs, burst)) {
      this.cheapDueAt = now + pace.cheapMs;
      plan.list = true;
      if (busy.length > 0) plan.statuses = true;
    }
    const goes = burst || plan.list;
    if (plan.requests === false && nearlyDue(now, this.requests.dueAt, this.requests.intervalMs, goes))
      plan.requests = "due";
    for (const [sessionID, backoff] of this.sessions)
      if (!due.includes(sessionID) && nearlyDue(now, backoff.dueAt, backoff.intervalMs, goes))
        due.push(sessionID);
    for (const sessionID of due) {
      plan.sessions.add(sessionID);
      // Until the read says how it went (`messagesRead`): a session that cannot be read is not due at once again.
      if (!busy.includes(sessionID)) continue;
      const backoff = this.backoffOf(sessionID);
      backoff.dueAt = now + Math.max(pace.firstMs, backoff.intervalMs);
    }
    this.signalled.clear();
    this.sessionsSignalled.clear();
    return plan;
  }

  /** Whether anything is signalled and waits for a read. */
  get signalledAny(): boolean {
    return this.signalled.size > 0 || this.sessionsSignalled.size > 0;
  }

  /** The session's messages were read: the next read follows its pace. Returns whether they changed since the last read. */
  messagesRead(sessionID: string, messages: MessageWithParts[], now: number, pace: Pace): boolean {
    return this.backOff(this.backoffOf(sessionID), shapeOf(messages), now, pace);
  }

  /** Pending permissions and questions were read (`shape`: what they were). */
  requestsRead(shape: string, now: number, pace: Pace): void {
    this.backOff(this.requests, shape, now, pace);
  }

  /** The pace changed (`pace`): nothing waits longer than it allows. */
  repace(now: number, pace: Pace): void {
    this.cheapDueAt = Math.min(this.cheapDueAt, now + pace.cheapMs);
    for (const backoff of [...this.sessions.values(), this.requests]) {
      backoff.intervalMs = Math.min(backoff.intervalMs, pace.capMs);
      backoff.dueAt = Math.min(backoff.dueAt, now + Math.max(pace.firstMs, backoff.intervalMs));
    }
  }

  /** When the next read is due (ms), `requests` telling whether pending requests are worth one. */
  nextAt(busy: readonly string[], requests: boolean): number {
    if (this.signalledAny) return 0;
    let next = this.cheapDueAt;
    for (const sessionID of busy) next = Math.min(next, this.sessions.get(sessionID)?.dueAt ?? 0);
    return requests ? Math.min(next, this.requests.dueAt) : next;
  }

  private backoffOf(sessionID: string): Backoff {
    let backoff = this.sessions.get(sessionID);
    if (!backoff) {
      backoff = { dueAt: 0, intervalMs: 0 };
      this.sessions.set(sessionID, backoff);
    }
    return backoff;
  }

  private backOff(backoff: Backoff, shape: string, now: number, pace: Pace): boolean {
    const changed = backoff.shape !== undefined && backoff.shape !== shape;
    backoff.intervalMs =
      changed || backoff.shape === undefined
        ? pace.firstMs
        : Math.min(pace.capMs, Math.max(pace.firstMs, backoff.intervalMs * 2));
    backoff.shape = shape;
    backoff.dueAt = now + backoff.intervalMs;
    return changed;
  }
}

/** Whether something due at `dueAt`, every `intervalMs`, is read now: it is due, or nearly and a burst goes out anyway. */
function nearlyDue(now: number, dueAt: number, intervalMs: number, burst: boolean): boolean {
  return now >= dueAt || (burst && now >= dueAt - intervalMs / 4);
}

/** What tells one read of a busy session's newest messages from the next: ids, parts, their states and lengths. */
export function shapeOf(messages: MessageWithParts[]): string {
  const newest = messages.at(-1);
  if (!newest) return "";
  const parts = newest.parts.map((part) => {
    const state = (part as { state?: { status?: string } }).state?.status ?? "";
    const text = (part as { text?: string }).text?.length ?? "";
    return `${part.id}:${state}:${text}`;
  });
  return `${newest.info.id}:${(newest.info.time as { completed?: number }).completed ?? ""}:${parts.join(",")}`;
}
