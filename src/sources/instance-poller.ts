import type { Hub } from "../hub/hub.js";
import type { InstanceState } from "../hub/mirror.js";
import type { PendingRequest } from "../hub/state.js";
import type { EventPayload } from "../hub/update.js";
import type { Reconciler } from "./poll.js";
import {
  diffList,
  diffMessages,
  diffRequests,
  diffSessions,
  diffStatuses,
  event,
  idleEvents,
} from "./reconcile.js";
import { permissionReplied, questionSettled } from "./settle.js";
import { SnapshotReader } from "./snapshot.js";

/** Every this many reads, the sessions are listed whole (deletions show only then). */
const FULL_LIST_EVERY = 15;
/** Every this many quiet reads, status, permissions and questions are read too, just in case. */
const SAFETY_EVERY = 10;
/** Log lines come in bursts: one read for a burst. */
const NUDGE_DEBOUNCE_MS = 20;
/**
 * Behind a live stream, how soon a difference is looked at again: long enough for a
 * stream that is merely behind to catch up, short enough for a lost event to be made
 * up for promptly.
 */
const SETTLE_MS = 1000;

/**
 * The reconciler's work on one instance: reads of its REST state, compared with the
 * mirror, at the pace the reconciler sets and as often as its activity asks for.
 */
export class InstancePoller {
  readonly reader: SnapshotReader;
  readonly state: InstanceState;
  private baseline: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nudgeTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private reads = 0;
  private unwatchedSince: number | undefined;
  private stopped = false;
  private failing: string | undefined;
  /** Behind a live stream: differences seen by the previous read and by this one. */
  private suspectedBefore = new Set<string>();
  private suspected = new Set<string>();
  /** When the shim began to follow the instance (upstream's clock is this machine's). */
  private readonly followedSince = Date.now();

  constructor(
    private readonly owner: Reconciler,
    directory: string,
  ) {
    this.reader = new SnapshotReader(owner.options.upstream, directory);
    this.state = owner.options.hub.mirror.instance(directory);
  }

  private get hub(): Hub {
    return this.owner.options.hub;
  }

  /** Resolves once the instance's present state has been taken in (retried until it works). */
  ready(): Promise<void> {
    this.baseline ??= this.adoptPresent().then(
      () => this.schedule(),
      (error: unknown) => {
        this.baseline = undefined;
        throw error;
      },
    );
    return this.baseline;
  }

  nudge(): void {
    if (this.nudgeTimer || this.stopped) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      void this.run(false);
    }, NUDGE_DEBOUNCE_MS);
    this.nudgeTimer.unref();
  }

  reschedule(): void {
    if (!this.running && this.baseline) this.schedule();
  }

  /** One read now; a read asked for while one runs happens right after it. */
  run(full: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.timer);
    this.running = this.readOnce(full)
      .then(
        () => {
          if (this.failing)
            this.owner.options.log.info({ directory: this.reader.directory }, "reading upstream works again");
          this.failing = undefined;
        },
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          if (message !== this.failing) {
            this.owner.options.log.warn(
              { directory: this.reader.directory, reason: message },
              "reading upstream failed",
            );
          }
          this.failing = message;
        },
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          void this.run(false);
        } else {
          this.schedule();
        }
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.nudgeTimer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const delay =
      this.owner.currentPace === "slow" && (this.suspected.size > 0 || this.quietAfterActivity().length > 0)
        ? SETTLE_MS
        : this.owner.intervalFor(this.state.activeSessions().length > 0);
    this.timer = setTimeout(() => void this.run(false), delay);
    this.timer.unref();
  }

  /**
   * At fast pace the reconciler is the source: what it finds goes out at once. Behind a
   * live stream, upstream's own event for a change may simply not have arrived yet when
   * REST already shows it, so a difference goes out only when the next read still sees it.
   */
  private publish(events: EventPayload[]): void {
    if (this.owner.currentPace === "slow") {
      events = events.filter((payload) => {
        const key = correctionKey(payload);
        this.suspected.add(key);
        return this.suspectedBefore.has(key);
      });
    }
    this.owner.publish(this.reader.directory, this.state, events);
  }

  /**
   * The first look: what was there before the shim began to follow the instance is
   * history, taken in without a word. A session created since (the first look may come
   * late, after an outage) is left unknown: it is news, announced by the next read or
   * before its first update from the stream.
   */
  private async adoptPresent(): Promise<void> {
    const seq = this.hub.lastSeq;
    const [sessions, statuses, permissions, questions, project] = await Promise.all([
      this.reader.sessions(),
      this.reader.statuses(),
      this.reader.permissions(),
      this.reader.questions(),
      this.state.project ? Promise.resolve(this.state.project) : this.reader.project(),
    ]);
    this.state.project ??= project;
    const news = new Set(
      sessions
        .filter((info) => info.time.created >= this.followedSince && !this.state.sessions.has(info.id))
        .map((info) => info.id),
    );
    const old = <T extends { sessionID: string }>(items: T[]) =>
      items.filter((item) => !news.has(item.sessionID));
    this.state.adoptSessions(
      sessions.filter((info) => !news.has(info.id)),
      seq,
    );
    this.state.adopted = true;
    for (const sessionID of news) delete statuses[sessionID];
    this.state.adoptStatuses(statuses, seq);
    this.state.adoptRequests(this.state.permissions, old(permissions), seq);
    this.state.adoptRequests(this.state.questions, old(questions), seq);
    for (const sessionID of Object.keys(statuses)) {
      if (this.state.messages.has(sessionID)) continue;
      const messages = await this.reader.messages(sessionID, this.owner.options.messageWindow ?? 10);
      if (messages) this.state.adoptMessages(sessionID, messages, this.hub.lastSeq);
    }
  }

  private async readOnce(full: boolean): Promise<void> {
    if (!this.hub.isWatched(this.reader.directory)) {
      this.unwatchedSince ??= Date.now();
      if (Date.now() - this.unwatchedSince >= (this.owner.options.releaseAfterMs ?? 30_000)) {
        this.stopped = true;
        this.owner.release(this);
        return;
      }
    } else {
      this.unwatchedSince = undefined;
    }
    if (!this.baseline) {
      await this.ready();
      return;
    }
    const read = this.reads++;
    this.suspectedBefore = this.suspected;
    this.suspected = new Set();
    const wasActive = this.state.activeSessions().length > 0;

    // Sessions: whole now and then, otherwise only those updated since the newest known.
    const listAll = full || read % FULL_LIST_EVERY === 0;
    let since = this.hub.lastSeq;
    const sessions = await this.reader.sessions(listAll ? undefined : this.state.newestSessionUpdate());
    const before = new Map<string, number>();
    for (const info of sessions) {
      const known = this.state.session(info.id);
      if (!known || known.time.updated < info.time.updated) before.set(info.id, known?.time.updated ?? 0);
    }
    this.publish(diffSessions(this.state, { sessions, complete: listAll }, since));

    // Status: whenever something moves, and now and then when nothing does.
    let statuses: Record<string, unknown> | undefined;
    let becameIdle: string[] = [];
    if (full || wasActive || before.size > 0 || read % SAFETY_EVERY === 0) {
      since = this.hub.lastSeq;
      const snapshot = await this.reader.statuses();
      const diff = diffStatuses(this.state, snapshot, since);
      this.publish(diff.events);
      statuses = snapshot;
      becameIdle = diff.becameIdle;
    }

    // Busy sessions, updated ones, and ones that went quiet since the last look (to catch what a stream lost).
    const quiet = this.quietAfterActivity();
    const toRead = new Set([...this.state.activeSessions(), ...before.keys(), ...quiet]);
    for (const sessionID of becameIdle) toRead.delete(sessionID);
    const turns: string[] = [];
    for (const sessionID of toRead) {
      if (!this.state.session(sessionID)) continue;
      if (await this.readMessages(sessionID, before.get(sessionID), false)) turns.push(sessionID);
    }
    // A session that went idle: a last whole look at its messages before anything else is said of it.
    for (const sessionID of becameIdle) await this.readMessages(sessionID, before.get(sessionID), true);
    // A whole turn may fall between two reads: it was announced busy above, and it is over when
    // upstream says idle and the newest message is a finished answer.
    for (const sessionID of turns) {
      if (statuses && !(sessionID in statuses) && this.turnFinished(sessionID)) becameIdle.push(sessionID);
    }

    // Permissions and questions are asked while a session is busy; their answers show in the tool parts just read.
    if (full || wasActive || toRead.size > 0 || becameIdle.length > 0 || read % SAFETY_EVERY === 0) {
      await this.readRequests(new Set(becameIdle));
    }

    for (const sessionID of becameIdle) {
      since = this.hub.lastSeq;
      const [todos, diff] = await Promise.all([this.reader.todos(sessionID), this.reader.diff(sessionID)]);
      if (todos)
        this.publish(diffList(this.state.todos.get(sessionID), todos, since, "todo.updated", sessionID));
      if (diff)
        this.publish(diffList(this.state.diffs.get(sessionID), diff, since, "session.diff", sessionID));
      this.publish(idleEvents(sessionID));
    }
    for (const sessionID of [...toRead, ...becameIdle]) {
      if (this.state.statusOf(sessionID).type === "idle") this.state.recentlyActive.delete(sessionID);
    }
  }

  /** Sessions something happened to since the last look, and that are idle now: worth one more look. */
  private quietAfterActivity(): string[] {
    const quiet: string[] = [];
    for (const sessionID of this.state.recentlyActive) {
      if (this.state.statusOf(sessionID).type === "idle" && this.state.session(sessionID))
        quiet.push(sessionID);
    }
    return quiet;
  }

  private turnFinished(sessionID: string): boolean {
    let newest: { role: string; time: { created: number; completed?: number } } | undefined;
    for (const entry of this.state.messages.get(sessionID)?.messages.values() ?? []) {
      const info = entry.info.value;
      if (info && (!newest || info.time.created >= newest.time.created)) newest = info;
    }
    return newest?.role === "assistant" && newest.time.completed !== undefined;
  }

  /**
   * `updatedBefore`: the session's `time.updated` before this read, when the read found
   * it updated — messages created up to then are history. True when the read found a
   * new turn of a session that was not known to be busy (it is announced busy first).
   */
  private async readMessages(
    sessionID: string,
    updatedBefore: number | undefined,
    complete: boolean,
  ): Promise<boolean> {
    const since = this.hub.lastSeq;
    const messages = await this.reader.messages(
      sessionID,
      complete ? undefined : (this.owner.options.messageWindow ?? 10),
    );
    if (!messages) return false;
    const historyUntil = updatedBefore ?? this.state.session(sessionID)?.time.updated ?? 0;
    const { events, history } = diffMessages(
      this.state,
      { sessionID, messages, complete },
      since,
      historyUntil,
    );
    this.state.adoptMessages(sessionID, history, this.hub.lastSeq);
    const book = this.state.messages.get(sessionID);
    const newTurn =
      this.state.statusOf(sessionID).type === "idle" &&
      events.some(
        (payload) => payload.type === "message.updated" && !book?.messages.has(messageIdOf(payload)),
      );
    if (newTurn) this.publish([event("session.status", { sessionID, status: { type: "busy" } })]);
    this.publish(events);
    if (events.some(isTodoToolUpdate)) {
      const todoSince = this.hub.lastSeq;
      const todos = await this.reader.todos(sessionID);
      if (todos)
        this.publish(diffList(this.state.todos.get(sessionID), todos, todoSince, "todo.updated", sessionID));
    }
    return newTurn;
  }

  /**
   * A request that is no longer pending was answered; how is told by its tool call's
   * end, so the event waits for that (or for the session to go idle, in `ending`).
   */
  private async readRequests(ending: Set<string>): Promise<void> {
    const since = this.hub.lastSeq;
    const [permissions, questions] = await Promise.all([this.reader.permissions(), this.reader.questions()]);
    const settledBy =
      (settle: typeof permissionReplied) =>
      (request: PendingRequest): EventPayload | undefined =>
        settle(request, this.state.toolPartOf(request), ending.has(request.sessionID));
    this.publish(
      diffRequests(this.state.permissions, permissions, since, {
        asked: "permission.asked",
        settled: settledBy(permissionReplied),
      }),
    );
    this.publish(
      diffRequests(this.state.questions, questions, since, {
        asked: "question.asked",
        settled: settledBy(questionSettled),
      }),
    );
  }
}

/** What a correction is about: its type and the thing it changes. */
function correctionKey(payload: EventPayload): string {
  const p = payload.properties as Record<string, { id?: string } | string | undefined>;
  const about = [p.info, p.part].find((value) => typeof value === "object")?.id;
  const id =
    about ??
    [p.partID, p.messageID, p.requestID, p.id, p.sessionID].find((value) => typeof value === "string");
  return `${payload.type} ${id ?? ""}`;
}

function messageIdOf(payload: EventPayload): string {
  return (payload.properties as { info?: { id?: string } }).info?.id ?? "";
}

function isTodoToolUpdate(payload: EventPayload): boolean {
  if (payload.type !== "message.part.updated") return false;
  const part = (payload.properties as { part?: { type?: string; tool?: string } }).part;
  return part?.type === "tool" && part.tool === "todowrite";
}
