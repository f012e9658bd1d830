import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyBaseLogger } from "fastify";
import { describeError } from "../../errors.js";
import type { EventPayload } from "../../hub/update.js";
import type { History, MirrorView } from "../../opencode/mirror.js";
import type { Sink } from "../../opencode/sink.js";
import { type MessageWithParts, toolInFlight } from "../../opencode/state.js";
import type { Upstream } from "../../upstream/upstream.js";
import { type Carried, carriedByStream } from "./carried.js";
import { correctionsFor, type Snapshot } from "./corrections.js";
import { type Audience, lastFollowed } from "./following.js";
import type { LogPulse } from "./log-pulse.js";
import type { ReadBudget } from "./read-budget.js";
import { type Pace, ReadPace, type Signal } from "./read-pace.js";
import { RestReader } from "./rest-reader.js";
import { questionsSeenUntil, turnFinished } from "./turns.js";

/**
 * How a read's corrections go out: `feed` — the reconciler feeds clients, at once; `check` —
 * behind a trusted stream, only what the stream still has not said after a grace period;
 * `catch-up` — at once, after the stream was away (what it missed meanwhile is no lie).
 */
export type ReadKind = "feed" | "check" | "catch-up";

/** What an instance's reconciler needs of the reconciler that owns it. */
export interface ReconcilerContext {
  upstream: Upstream;
  /** The budget of requests a second all the instances' reads share. */
  budget?: ReadBudget;
  sink: Sink;
  mirror: MirrorView;
  audience: Audience;
  log: FastifyBaseLogger;
  /** Whether the reconciler feeds clients (`feed`) or checks behind a trusted stream (`check`). */
  kind(): Exclude<ReadKind, "catch-up">;
  /** The pace of reads now: it depends on who feeds clients and on opencode's log. */
  pace(): Pace;
  /** opencode's log, as far as it tells when something changed. */
  logPulse: LogPulse;
  /** Behind a trusted stream, how long a difference is given for the stream to say it. */
  graceMs: number;
  /** An instance not followed (see `lastFollowed`) for this long is let go. */
  releaseAfterMs: number;
  /** The instance is let go: reads have stopped, and nothing of it is kept. */
  release(instance: InstanceReconciler): void;
  requested(): void;
  /** What a read published. */
  corrected(directory: string, events: EventPayload[], kind: ReadKind): void;
  /** What a read showed that upstream's stream had told clients already (see `carriedByStream`). */
  carried(directory: string, carried: Carried): void;
}

/** How many of a session's newest messages a wide read covers. */
const MESSAGE_WINDOW = 10;
/**
 * How many a narrow read covers: the message a busy session is writing (a step of its turn).
 * Agent sessions are big — each tool call keeps its output — so a wide read of a busy
 * session costs opencode milliseconds of CPU, and a narrow one next to nothing.
 */
const NARROW_WINDOW = 1;
/** Every session is listed every this many cheap reads' intervals (deletions show only then, or when the log says one). */
const COMPLETE_LIST_EVERY = 15;
/** Feeding clients, statuses, permissions and questions are read every this many cheap reads' intervals, whatever else says. */
const FULL_READ_EVERY = 10;
/** Between the end of a read and the next, at least (signals come in bursts). */
const MIN_GAP_MS = 10;
/** Log lines come in bursts: one read for a burst. */
const NUDGE_DEBOUNCE_MS = 20;

/**
 * The reconciler's work on one instance: a first look, taken in as history; then reads of
 * its REST state, in named phases, each compared with what clients were told, each part
 * read when it is due (`ReadPace`).
 */
export class InstanceReconciler {
  private readonly reader: RestReader;
  private baseline: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nudgeTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private queued: ReadKind | undefined;
  private readonly pace = new ReadPace();
  private completeListDueAt = 0;
  private fullReadDueAt = 0;
  /** The busy sessions whose newest messages showed a tool running at their last read. */
  private readonly toolsRunning = new Set<string>();
  /** The log's mark (see `LogPulse`) at each busy session's last read of its messages. */
  private readonly logMarks = new Map<string, number>();
  /** The last moment (ms) the instance was followed, as far as the last look showed. */
  private followedAt = Date.now();
  private stopped = false;
  /** Whether the baseline has been taken in. */
  private known = false;
  private failing: string | undefined;
  /** Each session's `time.updated` at the reconciler's last read: a session that moved since gets its messages read. */
  private readonly lastRead = new Map<string, number>();
  /** Todo tool calls after which the todo list was read (it is read once after each). */
  private readonly todoCallsRead = new Set<string>();
  /** The sessions that were there at the baseline: only theirs can have history; a newer session's messages are all news. */
  private readonly baselineSessions = new Set<string>();
  /** When the shim began to follow the instance (upstream's clock is this machine's). */
  private readonly followedSince = Date.now();
  /** What the stream told up to here (a hub sequence number) has been counted as carried. */
  private carriedCountedUntil = 0;
  /** Each session's `session.idle` (its sequence number) whose turn was counted as carried whole. */
  private readonly turnsCounted = new Map<string, number>();

  constructor(
    private readonly ctx: ReconcilerContext,
    readonly directory: string,
  ) {
    this.reader = new RestReader(ctx.upstream, directory, ctx.requested, undefined, ctx.budget);
  }

  private get state() {
    return this.ctx.mirror.instance(this.directory);
  }

  /** Resolves once the instance's present state has been taken in (retried until it works). */
  ready(): Promise<void> {
    this.baseline ??= this.readBaseline().then(
      () => this.schedule(),
      (error: unknown) => {
        this.baseline = undefined;
        throw error;
      },
    );
    return this.baseline;
  }

  /** Something changed, as `signals` say (of `sessionID`, if named): a read of it soon (signals come in bursts: one read for a burst). */
  nudge(signals: readonly Signal[] = EVERYTHING, sessionID?: string): void {
    for (const signal of signals) this.pace.signal(signal, sessionID);
    if (this.nudgeTimer || this.stopped) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      void this.run(this.ctx.kind());
    }, NUDGE_DEBOUNCE_MS);
    this.nudgeTimer.unref();
  }

  /** Whether its present state has been taken in (the first look worked). */
  get isKnown(): boolean {
    return this.known;
  }

  /** Someone names the instance (a client's stream, a request through the shim): it is followed now. */
  touch(): void {
    this.followedAt = Date.now();
  }

  /** Whether it may be let go to keep within the bound: its present state is known, and nobody follows it now. */
  releasable(now: number): boolean {
    return this.known && this.lastFollowed(now) < now;
  }

  /** The last moment (ms) the instance was followed, now included. */
  lastFollowed(now = Date.now()): number {
    const state = this.state;
    const activity = { busy: state.activeSessions().length > 0, changedAt: state.changedAt };
    this.followedAt = lastFollowed(this.ctx.audience, this.directory, activity, this.followedAt, now);
    return this.followedAt;
  }

  /** Stops reading and lets everything of the instance go; a read under way publishes nothing. */
  release(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.nudgeTimer);
    this.ctx.release(this);
  }

  /** The pace changed: what was due later than the new pace allows is due sooner. */
  reschedule(): void {
    this.pace.repace(performance.now(), this.ctx.pace());
    if (!this.running && this.baseline) this.schedule();
  }

  /** One read now; a read asked for while one runs happens right after it. */
  run(kind: ReadKind): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      if (this.queued !== "catch-up") this.queued = kind;
      return this.running;
    }
    clearTimeout(this.timer);
    this.running = this.readAndCorrect(kind)
      .then(
        () => this.readWorked(),
        (error: unknown) => this.readFailed(error),
      )
      .finally(() => {
        this.running = undefined;
        const next = this.queued;
        this.queued = undefined;
        if (next) void this.run(next);
        else this.schedule();
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
    const next = this.pace.nextAt(this.state.activeSessions(), this.requestsMayWait());
    const delay = Math.max(MIN_GAP_MS, next - performance.now());
    this.timer = setTimeout(() => void this.run(this.ctx.kind()), delay);
    this.timer.unref();
  }

  private readWorked(): void {
    if (this.failing) this.ctx.log.info({ directory: this.directory }, "reading upstream works again");
    this.failing = undefined;
  }

  private readFailed(error: unknown): void {
    const message = describeError(error);
    if (message !== this.failing)
      this.ctx.log.warn({ directory: this.directory, reason: message }, "reading upstream failed");
    this.failing = message;
  }

  private async readAndCorrect(kind: ReadKind): Promise<void> {
    const now = Date.now();
    if (now - this.lastFollowed(now) >= this.ctx.releaseAfterMs) {
      this.release();
      return;
    }
    if (!this.baseline) {
      await this.ready();
      return;
    }
    const { snapshot, listed } = await this.read(kind);
    if (this.stopped) return;
    await this.correct(snapshot, kind);
    if (snapshot.sessions?.complete)
      for (const sessionID of this.lastRead.keys())
        if (!listed.has(sessionID)) this.lastRead.delete(sessionID);
    for (const [sessionID, updated] of listed) this.lastRead.set(sessionID, updated);
  }

  /**
   * The baseline, the first read: what was there before the shim began to follow the
   * instance is history, taken in without a word. A session created since (the baseline
   * may come late, after an outage) is left unknown: it is news, announced by the next
   * read or before its first update from the stream.
   */
  private async readBaseline(): Promise<void> {
    const knownProject = this.state.project;
    const [sessions, statuses, permissions, questions, project] = await Promise.all([
      this.reader.sessions(),
      this.reader.statuses(),
      this.reader.permissions(),
      this.reader.questions(),
      knownProject ? Promise.resolve(knownProject) : this.reader.project(),
    ]);
    // Read again: what clients were told is kept from its first update on, which may have come meanwhile.
    const state = this.state;
    const createdSince = new Set(
      sessions
        .filter((info) => info.time.created >= this.followedSince && !state.announced(info.id))
        .map((info) => info.id),
    );
    const ofHistory = <T extends { sessionID: string }>(items: T[]) =>
      items.filter((item) => !createdSince.has(item.sessionID));
    for (const sessionID of createdSince) delete statuses[sessionID];
    const historyMessages: NonNullable<History["messages"]> = [];
    const history: History = {
      sessions: sessions.filter((info) => !createdSince.has(info.id)),
      statuses,
      permissions: ofHistory(permissions),
      questions: ofHistory(questions),
      project,
      baseline: true,
      messages: historyMessages,
    };
    for (const sessionID of Object.keys(statuses)) {
      if (this.state.messages.has(sessionID)) continue;
      const messages = await this.reader.messages(sessionID, MESSAGE_WINDOW);
      if (messages) historyMessages.push({ sessionID, messages });
    }
    if (this.stopped) return;
    this.ctx.sink.takeInHistory(this.directory, history);
    this.known = true;
    for (const info of sessions) {
      if (createdSince.has(info.id)) continue;
      this.baselineSessions.add(info.id);
      this.lastRead.set(info.id, info.time.updated);
    }
  }

  /**
   * One read, phase by phase, of what is due (see `ReadPace`): which sessions moved, or
   * their statuses; the messages of those that moved, whose status changed, or that are
   * busy and due; pending permissions and questions; todos and diffs. Each phase reads only
   * what the ones before say may have changed.
   */
  private async read(kind: ReadKind): Promise<{ snapshot: Snapshot; listed: Map<string, number> }> {
    const now = performance.now();
    const pace = this.ctx.pace();
    const publishesAtOnce = kind !== "check";
    const busyKnown = this.state.activeSessions();
    if (kind === "catch-up") for (const signal of EVERYTHING) this.pace.signal(signal);
    const plan = this.pace.plan(now, pace, busyKnown);
    for (const sessionID of this.logMarks.keys()) if (!busyKnown.includes(sessionID)) this.forget(sessionID);
    const snapshot: Snapshot = { messages: [], todos: [], diffs: [] };
    const complete = kind === "catch-up" || plan.allSessions || now >= this.completeListDueAt;
    if (complete) this.completeListDueAt = now + COMPLETE_LIST_EVERY * pace.cheapMs;
    let listed = plan.list || complete ? await this.readSessions(snapshot, complete) : undefined;
    let moved = this.movedIn(listed);
    const fullRead = publishesAtOnce && now >= this.fullReadDueAt;
    if (fullRead) this.fullReadDueAt = now + FULL_READ_EVERY * pace.cheapMs;
    // Statuses before messages: when upstream says a turn is over, its messages read after show its end.
    // A session that moved may have begun or ended a turn.
    if (kind === "catch-up" || fullRead || plan.statuses || moved.size > 0) await this.readStatuses(snapshot);
    const statusChanged = (sessionID: string) => {
      const statuses = snapshot.statuses?.value;
      return statuses !== undefined && sessionID in statuses !== busyKnown.includes(sessionID);
    };
    const statuses = snapshot.statuses?.value;
    // A turn that began or ended moved its session.
    if (!listed && [...busyKnown, ...Object.keys(statuses ?? {})].some(statusChanged)) {
      listed = await this.readSessions(snapshot, false);
      moved = this.movedIn(listed);
    }
    const sessions = new Set([...moved, ...plan.sessions]);
    for (const sessionID of [...busyKnown, ...Object.keys(statuses ?? {})])
      if (kind === "catch-up" || statusChanged(sessionID)) sessions.add(sessionID);
    // Wide where something says more than the newest message may have changed: the session
    // moved, its turn began or ended, or the stream was away. Behind a trusted stream, a
    // busy session's move that the stream told (clients have the session as listed: a turn
    // beginning moves it several times) needs no look further back; the whole turn is
    // looked at once it ends. While the reconciler feeds clients, every move is looked at
    // wide: that is also what shows a turn the stream carried whole (the evidence for
    // trusting it again).
    const busyNow = (sessionID: string) => (statuses ? sessionID in statuses : busyKnown.includes(sessionID));
    const toldAsListed = (sessionID: string) =>
      (this.state.session(sessionID)?.time.updated ?? -1) >= (listed?.get(sessionID) ?? 0);
    const movedWide = (sessionID: string) =>
      moved.has(sessionID) && (publishesAtOnce || !busyNow(sessionID) || !toldAsListed(sessionID));
    const wide = (sessionID: string) =>
      kind === "catch-up" || movedWide(sessionID) || statusChanged(sessionID);
    await this.readMessages(snapshot, sessions, wide);
    this.paceMessages(snapshot, busyKnown, now, pace);
    if (!snapshot.statuses && this.turnLooksOver(snapshot, busyKnown)) {
      await this.readStatuses(snapshot);
      // A turn that ended moved its session; what the turn made meanwhile (a subagent's
      // session, created and done since the last list) is told, whole, before its end.
      if (!listed && busyKnown.some(statusChanged)) {
        listed = await this.readSessions(snapshot, false);
        const movedNow = this.movedIn(listed);
        const unread = new Set([...movedNow].filter((sessionID) => !sessions.has(sessionID)));
        for (const sessionID of movedNow) moved.add(sessionID);
        await this.readMessages(snapshot, unread, () => true);
      }
    }
    // A request asked is read until it is answered (a person waits on it), and one a running
    // tool may ask while the tool runs: at the pace of a busy session's messages; and in the
    // read that finds its session's turn over, so that how it was settled is told before the turn's end.
    if (
      kind === "catch-up" ||
      fullRead ||
      plan.requests === "signalled" ||
      (plan.requests === "due" && this.requestsMayWait()) ||
      this.requestOfEndedTurn(snapshot)
    ) {
      await this.readRequests(snapshot);
      const { permissions = [], questions = [] } = snapshot.requests ?? {};
      const shape = [...permissions, ...questions].map((request) => (request as { id?: string }).id).join();
      this.pace.requestsRead(shape, now, pace);
    }
    await this.readLists(snapshot, this.turnsEnded(snapshot, moved, busyKnown));
    return { snapshot, listed: listed ?? new Map() };
  }

  /** The sessions of a list read that moved since the reconciler last read them. */
  private movedIn(listed: Map<string, number> | undefined): Set<string> {
    const moved = new Set<string>();
    for (const [sessionID, updated] of listed ?? [])
      if ((this.lastRead.get(sessionID) ?? -1) < updated) moved.add(sessionID);
    return moved;
  }

  /**
   * After a read: each busy session's messages are next read at the pace of its changes;
   * a change the log did not announce puts the reads back on their own pace.
   */
  private paceMessages(snapshot: Snapshot, busyKnown: string[], now: number, pace: Pace): void {
    const pulse = this.ctx.logPulse;
    for (const { sessionID, messages } of snapshot.messages) {
      if (!busyKnown.includes(sessionID)) continue;
      if (this.pace.messagesRead(sessionID, messages, now, pace)) {
        const mark = this.logMarks.get(sessionID);
        if (mark !== undefined) pulse.changedSince(mark);
      }
      this.logMarks.set(sessionID, pulse.mark);
      if (hasToolInFlight(messages)) this.toolsRunning.add(sessionID);
      else this.toolsRunning.delete(sessionID);
    }
  }

  /** What was kept of a session's reads while it was busy. */
  private forget(sessionID: string): void {
    this.logMarks.delete(sessionID);
    this.toolsRunning.delete(sessionID);
  }

  /** Whether the statuses read show a session idle that a request clients were told of is still pending in. */
  private requestOfEndedTurn(snapshot: Snapshot): boolean {
    const statuses = snapshot.statuses?.value;
    if (!statuses) return false;
    for (const tracked of [...this.state.permissions.values(), ...this.state.questions.values()])
      if (tracked.value && !(tracked.value.sessionID in statuses)) return true;
    return false;
  }

  /** Whether a permission or a question may be waiting: one is pending, as clients were told, or a tool runs. */
  private requestsMayWait(): boolean {
    if (this.toolsRunning.size > 0) return true;
    return [...this.state.permissions.values(), ...this.state.questions.values()].some(
      (tracked) => tracked.value !== undefined,
    );
  }

  /** Phase 1: the sessions, all of them now and then, otherwise only those updated since the newest read. */
  private async readSessions(snapshot: Snapshot, complete: boolean): Promise<Map<string, number>> {
    const since = this.ctx.mirror.lastSeq;
    let newest = 0;
    for (const updated of this.lastRead.values()) if (updated > newest) newest = updated;
    const list = await this.reader.sessions(complete ? undefined : newest);
    snapshot.sessions = { list, complete, since };
    return new Map(list.map((info) => [info.id, info.time.updated]));
  }

  /**
   * Phase 3: the newest messages of every session that moved since the last look or is
   * busy — wide where `wide` says, otherwise narrow, widened when the narrow window shows a
   * gap (see `gapBefore`).
   */
  private async readMessages(
    snapshot: Snapshot,
    sessions: Set<string>,
    wide: (sessionID: string) => boolean,
  ): Promise<void> {
    const listed = new Set(snapshot.sessions?.list.map((info) => info.id));
    for (const sessionID of sessions) {
      if (!listed.has(sessionID) && !this.state.session(sessionID)) continue;
      // Of a session there at the baseline, messages up to its last read were there before: history;
      // so are those clients were told before the mirror let them go.
      const baseline = this.baselineSessions.has(sessionID) ? (this.lastRead.get(sessionID) ?? 0) : 0;
      const historyUntil = Math.max(baseline, this.state.messagesLetGoUntil(sessionID));
      let window = wide(sessionID) ? MESSAGE_WINDOW : NARROW_WINDOW;
      let since = this.ctx.mirror.lastSeq;
      let askedAt = Date.now();
      let messages = await this.reader.messages(sessionID, window);
      if (messages && window < MESSAGE_WINDOW && this.gapBefore(sessionID, messages, window, historyUntil)) {
        window = MESSAGE_WINDOW;
        since = this.ctx.mirror.lastSeq;
        askedAt = Date.now();
        messages = await this.reader.messages(sessionID, window);
      }
      if (!messages) continue;
      // Fewer than asked for: all of them, so any known one missing was removed.
      const complete = messages.length < window;
      snapshot.messages.push({ sessionID, messages, complete, historyUntil, askedAt, since });
    }
  }

  /**
   * Whether a narrow read may have missed something before its window: its oldest message
   * is one clients were never told of (others may precede it), or a question (the end of the
   * turn before it is the previous message).
   */
  private gapBefore(
    sessionID: string,
    messages: MessageWithParts[],
    window: number,
    historyUntil: number,
  ): boolean {
    if (messages.length < window) return false;
    const oldest = messages[0]?.info;
    if (!oldest || oldest.time.created <= historyUntil) return false;
    return oldest.role === "user" || this.state.message(sessionID, oldest.id)?.info === undefined;
  }

  /** Whether a session clients were told is busy shows a finished answer: its turn may have ended. */
  private turnLooksOver(snapshot: Snapshot, busyKnown: string[]): boolean {
    const busy = new Set(busyKnown);
    return snapshot.messages.some((read) => busy.has(read.sessionID) && turnFinished(read.messages));
  }

  /** Phase 2: which sessions are busy. */
  private async readStatuses(snapshot: Snapshot): Promise<void> {
    const since = this.ctx.mirror.lastSeq;
    snapshot.statuses = { value: await this.reader.statuses(), since };
  }

  /** Sessions whose turn ended since the last read: idle upstream, and moved or busy as clients were told. */
  private turnsEnded(snapshot: Snapshot, moved: Set<string>, busyKnown: string[]): string[] {
    const statuses = snapshot.statuses?.value;
    if (!statuses) return [];
    const busy = new Set(busyKnown);
    return snapshot.messages
      .map((read) => read.sessionID)
      .filter((sessionID) => !(sessionID in statuses) && (moved.has(sessionID) || busy.has(sessionID)));
  }

  /** Phase 4: pending permissions and questions (asked while a tool runs; answered when it goes on). */
  private async readRequests(snapshot: Snapshot): Promise<void> {
    const since = this.ctx.mirror.lastSeq;
    const [permissions, questions] = await Promise.all([this.reader.permissions(), this.reader.questions()]);
    snapshot.requests = { permissions, questions, since };
  }

  /** Phase 5: todos once after each todo tool call, and the diff of sessions whose turn ended. */
  private async readLists(snapshot: Snapshot, turnsEnded: string[]): Promise<void> {
    for (const { sessionID, messages, historyUntil } of snapshot.messages) {
      const recent = messages.filter(({ info }) => info.time.created > historyUntil);
      const calls = todoCallsDone(recent).filter((partID) => !this.todoCallsRead.has(partID));
      if (calls.length === 0) continue;
      const since = this.ctx.mirror.lastSeq;
      const list = await this.reader.todos(sessionID);
      if (list) snapshot.todos.push({ sessionID, list, since });
      if (this.todoCallsRead.size > 10_000) this.todoCallsRead.clear();
      for (const partID of calls) this.todoCallsRead.add(partID);
    }
    for (const sessionID of turnsEnded) {
      const since = this.ctx.mirror.lastSeq;
      const list = await this.reader.diff(sessionID);
      if (list) snapshot.diffs.push({ sessionID, list, since });
    }
  }

  /**
   * Publishes what clients were not told. Behind a trusted stream, the stream may simply
   * be a moment behind REST: a difference waits `graceMs`, and only what the stream still
   * has not said by then goes out.
   */
  private async correct(snapshot: Snapshot, kind: ReadKind): Promise<void> {
    let corrections = correctionsFor(this.state, snapshot);
    if (kind === "check" && corrections.events.length > 0) {
      await sleep(this.ctx.graceMs);
      if (this.stopped) return;
      corrections = correctionsFor(this.state, snapshot);
    }
    this.ctx.sink.takeInHistory(this.directory, corrections.history);
    const carried = carriedByStream(this.state, snapshot, this.carriedCountedUntil, this.turnsCounted);
    for (const read of snapshot.messages)
      this.carriedCountedUntil = Math.max(this.carriedCountedUntil, read.since);
    if (carried.changes > 0 || carried.turns > 0) this.ctx.carried(this.directory, carried);
    const project = this.state.project;
    const published = corrections.events.filter(
      (payload) =>
        this.ctx.sink.publish({
          directory: this.directory,
          project,
          payload,
          origin: "reconciler",
          asOf: corrections.turnEnds.get(payload) ?? statusAsOf(snapshot, payload),
        }) === "new",
    );
    if (published.length > 0) this.ctx.corrected(this.directory, published, kind);
  }
}

/** A status told from a read is as of the newest question the read saw of its session (see `turnsBegun`). */
function statusAsOf(snapshot: Snapshot, payload: EventPayload): number | undefined {
  if (payload.type !== "session.status") return undefined;
  const { sessionID } = payload.properties as { sessionID?: string };
  const read = snapshot.messages.find((candidate) => candidate.sessionID === sessionID);
  return read ? questionsSeenUntil(read) : undefined;
}

/** Every signal but a whole listing: anything may have changed (a catch-up lists every session anyway). */
const EVERYTHING: readonly Signal[] = ["list", "statuses", "messages", "requests"];

/** The todo tool calls among `messages` that are done: each changed the todo list, which REST keeps apart. */
function todoCallsDone(messages: MessageWithParts[]): string[] {
  return messages.flatMap(({ parts }) =>
    parts
      .filter((part) => part.type === "tool" && part.tool === "todowrite" && !toolInFlight(part))
      .map((part) => part.id),
  );
}

function hasToolInFlight(messages: MessageWithParts[]): boolean {
  return messages.some(({ parts }) => parts.some(toolInFlight));
}
