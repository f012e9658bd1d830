import { createHash } from "node:crypto";
import type { TimedEvent } from "../common/sse-reader.js";

/**
 * The changes the convergence benchmark follows, each named by a key that both sides
 * compute alike: the truth watcher from opencode's REST state, a client from the events
 * it receives. A change "reaches" a client with the first event whose keys hold it.
 */

export type ChangeKind =
  | "session created"
  | "message created"
  | "message completed"
  | "part final"
  | "busy"
  | "idle"
  | "permission asked"
  | "permission answered"
  | "question asked"
  | "question answered"
  | "todos";

export type RequestKind = "permission" | "question";

interface Part {
  id?: string;
  type?: string;
  text?: string;
  time?: { end?: number };
  state?: { status?: string };
}

/** JSON with object keys sorted: equal values, equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function digest(value: unknown): string {
  return createHash("sha1").update(canonicalJson(value)).digest("base64").slice(0, 12);
}

export const changeKey = {
  session: (id: string) => `session ${id}`,
  message: (id: string) => `message ${id}`,
  completed: (id: string) => `message ${id} completed`,
  asked: (kind: RequestKind, id: string) => `${kind} ${id} asked`,
  answered: (kind: RequestKind, id: string) => `${kind} ${id} answered`,
  todos: (sessionID: string, todos: unknown) => `todos ${sessionID} ${digest(todos)}`,
  /** A part in its final state: a text part once it has ended (with its text), a tool part once it is done. */
  finalPart(part: Part): string | undefined {
    if (!part.id) return undefined;
    if (part.type === "text" && part.time?.end !== undefined)
      return `part ${part.id} text ${digest(part.text)}`;
    const status = part.state?.status;
    if (part.type === "tool" && (status === "completed" || status === "error"))
      return `part ${part.id} ${status}`;
    return undefined;
  },
};

/**
 * Each session's busy and idle periods, numbered: busy #n is its n-th turn starting, idle #n
 * that turn ending. A state said again belongs to the period it repeats.
 */
export class Transitions {
  private readonly sessions = new Map<string, { busy: boolean; turns: number }>();

  /** The key of the period this state is in, and whether it just began; undefined for idle before any turn. */
  observe(sessionID: string, busy: boolean): { key: string | undefined; began: boolean } {
    const session = this.sessions.get(sessionID) ?? { busy: false, turns: 0 };
    this.sessions.set(sessionID, session);
    const began = session.busy !== busy;
    session.busy = busy;
    if (began && busy) session.turns++;
    if (session.turns === 0) return { key: undefined, began: false };
    return { key: `${busy ? "busy" : "idle"} ${sessionID} #${session.turns}`, began };
  }

  /** How many turns of the session began. */
  turns(sessionID: string): number {
    return this.sessions.get(sessionID)?.turns ?? 0;
  }

  /** Sessions busy now. */
  busy(): string[] {
    return [...this.sessions].filter(([, session]) => session.busy).map(([sessionID]) => sessionID);
  }
}

/** An event's content, for "the same state under two ids": its type and properties, less the send time. */
export function contentOf(event: TimedEvent): string {
  const { time: _sent, ...properties } = event.properties;
  return `${event.type} ${digest(properties)}`;
}

interface Telling {
  key: string;
  /**
   * What counts as the same telling when counting copies: the event's content for states that
   * move on (a message's info), its type for what should be told once (a session created, a
   * request asked or answered, a turn's end, a part's final state).
   */
  copy: string;
}

const str = (value: unknown) => (typeof value === "string" ? value : "");

/**
 * What one stream told, and when: the first arrival of each change key, and every event
 * that told it, grouped as copies. Fed events in arrival order.
 */
export class Tally {
  readonly firstUs = new Map<string, number>();
  /** key → copy class → event ids. */
  readonly copies = new Map<string, Map<string, Set<string>>>();
  /** Every event's content → its event ids and their arrivals (µs), for repeats of anything at all. */
  readonly contents = new Map<string, Array<{ id: string; atUs: number }>>();
  private readonly transitions = new Transitions();
  private fed = 0;

  constructor(private readonly accepts: (event: TimedEvent) => boolean = () => true) {}

  /** Takes in the events of `events` not taken in yet (a reader's growing list). */
  catchUp(events: TimedEvent[]): void {
    for (; this.fed < events.length; this.fed++) {
      const event = events[this.fed] as TimedEvent;
      if (this.accepts(event) && !event.type.startsWith("server.")) this.add(event);
    }
  }

  copiesOf(key: string): Map<string, Set<string>> {
    return this.copies.get(key) ?? new Map();
  }

  /** How many turns of the session this stream told of. */
  turns(sessionID: string): number {
    return this.transitions.turns(sessionID);
  }

  private add(event: TimedEvent): void {
    const id = event.id ?? `(no id ${event.receivedUs})`;
    const content = contentOf(event);
    const same = this.contents.get(content) ?? [];
    same.push({ id, atUs: event.receivedUs });
    this.contents.set(content, same);
    for (const { key, copy } of this.tells(event, content)) {
      if (!this.firstUs.has(key)) this.firstUs.set(key, event.receivedUs);
      const classes = this.copies.get(key) ?? new Map<string, Set<string>>();
      this.copies.set(key, classes);
      const ids = classes.get(copy) ?? new Set<string>();
      classes.set(copy, ids);
      ids.add(id);
    }
  }

  private tells(event: TimedEvent, content: string): Telling[] {
    const p = event.properties;
    const info = (p.info ?? {}) as { id?: string; time?: { completed?: number } };
    const once = (key: string | undefined, copy = event.type): Telling[] => (key ? [{ key, copy }] : []);
    switch (event.type) {
      case "session.created":
        return once(changeKey.session(str(info.id) || str(p.sessionID)));
      case "message.updated": {
        if (!info.id) return [];
        const tellings = [{ key: changeKey.message(info.id), copy: content }];
        if (info.time?.completed !== undefined) tellings.push(...once(changeKey.completed(info.id)));
        return tellings;
      }
      case "message.part.updated":
        return once(changeKey.finalPart((p.part ?? {}) as Part));
      case "session.status": {
        const busy = (p.status as { type?: string } | undefined)?.type !== "idle";
        return once(this.transitions.observe(str(p.sessionID), busy).key);
      }
      case "session.idle":
        return once(this.transitions.observe(str(p.sessionID), false).key);
      case "permission.asked":
      case "question.asked":
        return once(
          changeKey.asked(event.type === "permission.asked" ? "permission" : "question", str(p.id)),
        );
      case "permission.replied":
        return once(changeKey.answered("permission", str(p.requestID) || str(p.permissionID)));
      case "question.replied":
      case "question.rejected":
        return once(changeKey.answered("question", str(p.requestID)), "question settled");
      case "todo.updated":
        return once(changeKey.todos(str(p.sessionID), p.todos));
      default:
        return [];
    }
  }
}
