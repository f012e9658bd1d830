import { nowUs, sleep } from "../common/clock.js";
import { type ChangeKind, changeKey, type RequestKind, Transitions } from "./changes.js";

/** A change as REST first showed it. */
export interface RestChange {
  key: string;
  kind: ChangeKind;
  sessionID: string;
  /** µs (common/clock.ts) when the response that first showed it was read. */
  firstSeenUs: number;
}

interface Read<T> {
  body: T;
  atUs: number;
}

interface Message {
  info: { id: string; time: { completed?: number } };
  parts: Array<{ id: string; type: string }>;
}

/** Messages read per followed session each time: a turn adds at most four. */
const NEWEST_MESSAGES = 10;
/** Reads failing for this long in a row: opencode is gone, and the benchmark says so. */
const GIVE_UP_AFTER_MS = 10_000;

/**
 * Polls opencode's REST directly (not through the relay or the shim), every `intervalMs`,
 * and records when each change first shows: new sessions, busy and idle turns, pending
 * permissions and questions and their answers, and for the sessions it follows, their
 * messages, final parts and todo lists. What is there at its first read is the baseline,
 * not a change.
 */
export class TruthWatcher {
  readonly changes: RestChange[] = [];
  /** Start-to-start time of each read (µs): how finely "first showed" is known. */
  readonly periodsUs: number[] = [];
  private readonly recorded = new Set<string>();
  private readonly followed = new Set<string>();
  private readonly transitions = new Transitions();
  private readonly pending: Record<RequestKind, Map<string, string>> = {
    permission: new Map(),
    question: new Map(),
  };
  private readonly todoLists = new Map<string, string>();
  private sessions: Set<string> | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private failingSinceUs: number | undefined;
  private lastError: unknown;
  private readonly tickWaiters: Array<() => void> = [];

  constructor(
    private readonly base: string,
    private readonly directory: string,
    private readonly intervalMs = 50,
  ) {}

  /** Takes the baseline, then reads on until stopped. */
  async start(): Promise<void> {
    await this.read();
    this.running = true;
    this.loop = this.readOn();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Reads this session's messages and todos too, from the next read on. */
  follow(sessionID: string): void {
    this.followed.add(sessionID);
    this.todoLists.set(sessionID, changeKey.todos(sessionID, []));
  }

  unfollow(sessionID: string): void {
    this.followed.delete(sessionID);
  }

  /** A permission or question of the session pending now, as REST last showed it. */
  pendingOf(kind: RequestKind, sessionID: string): string | undefined {
    for (const [id, owner] of this.pending[kind]) if (owner === sessionID) return id;
    return undefined;
  }

  isBusy(sessionID: string): boolean {
    return this.transitions.busy().includes(sessionID);
  }

  /** Resolves once `count` more whole reads are done: what REST showed by now has been seen. */
  async reads(count: number): Promise<void> {
    for (let i = 0; i < count && this.running; i++) {
      this.failIfGone();
      await new Promise<void>((resolve) => this.tickWaiters.push(resolve));
    }
  }

  /** Throws if reads have failed for a while: opencode is not answering. */
  failIfGone(): void {
    if (this.failingSinceUs !== undefined && nowUs() - this.failingSinceUs > GIVE_UP_AFTER_MS * 1000)
      throw new Error(`the truth watcher could not read opencode's REST for 10 s: ${String(this.lastError)}`);
  }

  private async readOn(): Promise<void> {
    let lastUs = nowUs();
    while (this.running) {
      const startUs = nowUs();
      this.periodsUs.push(startUs - lastUs);
      lastUs = startUs;
      try {
        await this.read();
        this.failingSinceUs = undefined;
      } catch (error) {
        this.failingSinceUs ??= startUs;
        this.lastError = error;
      }
      for (const resolve of this.tickWaiters.splice(0)) resolve();
      await sleep(Math.max(0, this.intervalMs - (nowUs() - startUs) / 1000));
    }
  }

  private async get<T>(path: string): Promise<Read<T>> {
    const separator = path.includes("?") ? "&" : "?";
    const url = `${this.base}${path}${separator}directory=${encodeURIComponent(this.directory)}`;
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    const body = (await response.json()) as T;
    return { body, atUs: nowUs() };
  }

  private record(key: string, kind: ChangeKind, sessionID: string, atUs: number): void {
    if (this.recorded.has(key)) return;
    this.recorded.add(key);
    this.changes.push({ key, kind, sessionID, firstSeenUs: atUs });
  }

  private async read(): Promise<void> {
    const baseline = this.sessions === undefined;
    const followed = [...this.followed];
    const [sessions, statuses, permissions, questions, ...perSession] = await Promise.all([
      this.get<Array<{ id: string }>>("/session?limit=1000000"),
      this.get<Record<string, unknown>>("/session/status"),
      this.get<Array<{ id: string; sessionID: string }>>("/permission"),
      this.get<Array<{ id: string; sessionID: string }>>("/question"),
      ...followed.flatMap((id) => [
        this.get<Message[]>(`/session/${id}/message?limit=${NEWEST_MESSAGES}`),
        this.get<unknown[]>(`/session/${id}/todo`),
      ]),
    ]);
    this.sessionsFrom(sessions, baseline);
    this.statusesFrom(statuses);
    this.requestsFrom("permission", permissions, baseline);
    this.requestsFrom("question", questions, baseline);
    followed.forEach((sessionID, index) => {
      this.messagesFrom(sessionID, perSession[2 * index] as Read<Message[]>);
      this.todosFrom(sessionID, perSession[2 * index + 1] as Read<unknown[]>);
    });
  }

  private sessionsFrom({ body, atUs }: Read<Array<{ id: string }>>, baseline: boolean): void {
    this.sessions ??= new Set();
    for (const { id } of body) {
      if (this.sessions.has(id)) continue;
      this.sessions.add(id);
      if (!baseline) this.record(changeKey.session(id), "session created", id, atUs);
    }
  }

  private statusesFrom({ body, atUs }: Read<Record<string, unknown>>): void {
    const idleNow = this.transitions.busy().filter((sessionID) => !(sessionID in body));
    for (const sessionID of Object.keys(body)) this.transition(sessionID, true, atUs);
    for (const sessionID of idleNow) this.transition(sessionID, false, atUs);
  }

  private transition(sessionID: string, busy: boolean, atUs: number): void {
    const { key, began } = this.transitions.observe(sessionID, busy);
    if (key && began) this.record(key, busy ? "busy" : "idle", sessionID, atUs);
  }

  private requestsFrom(
    kind: RequestKind,
    { body, atUs }: Read<Array<{ id: string; sessionID: string }>>,
    baseline: boolean,
  ): void {
    const pending = this.pending[kind];
    const now = new Set(body.map((request) => request.id));
    for (const [id, sessionID] of pending) {
      if (now.has(id)) continue;
      pending.delete(id);
      this.record(changeKey.answered(kind, id), `${kind} answered`, sessionID, atUs);
    }
    for (const { id, sessionID } of body) {
      if (pending.has(id)) continue;
      pending.set(id, sessionID);
      if (!baseline) this.record(changeKey.asked(kind, id), `${kind} asked`, sessionID, atUs);
    }
  }

  private messagesFrom(sessionID: string, { body, atUs }: Read<Message[]>): void {
    for (const { info, parts } of body) {
      this.record(changeKey.message(info.id), "message created", sessionID, atUs);
      if (info.time.completed !== undefined)
        this.record(changeKey.completed(info.id), "message completed", sessionID, atUs);
      for (const part of parts) {
        const key = changeKey.finalPart(part);
        if (key) this.record(key, "part final", sessionID, atUs);
      }
    }
  }

  private todosFrom(sessionID: string, { body, atUs }: Read<unknown[]>): void {
    const key = changeKey.todos(sessionID, body);
    if (this.todoLists.get(sessionID) === key) return;
    this.todoLists.set(sessionID, key);
    this.record(key, "todos", sessionID, atUs);
  }
}
