// @ts-check
// The events the live view keeps: the newest MAX_ROWS in order, those held back while
// paused, a count per type, the sessions seen (and whose subagents they are), and what
// changed since the page last drew them. Pure: no DOM, so it also runs in Node.

/** @import { EventRecord, PauseMode } from "./format.js" */

/** Events kept (and rows shown) at most; older ones are forgotten. */
export const MAX_ROWS = 2000;
/** Events held back while paused, at most; past that the oldest held ones are dropped. */
export const MAX_HELD = 2000;
/** Sessions remembered for the session filter's suggestions. */
export const MAX_SESSIONS = 200;
/** Subagent sessions whose parent is remembered, at most (as many as rows can be about). */
export const MAX_PARENTS = MAX_ROWS;
/** Deeper than any chain of subagents: a cycle in bad data ends here. */
const MAX_LINEAGE = 32;

export class EventStore {
  /**
   * Kept events, oldest first.
   * @type {EventRecord[]}
   */
  records = [];
  /**
   * Events kept since the page last drew, oldest first.
   * @type {EventRecord[]}
   */
  fresh = [];
  /**
   * Events forgotten (past MAX_ROWS) since the page last drew.
   * @type {EventRecord[]}
   */
  forgotten = [];
  /**
   * Events held back while paused, oldest first.
   * @type {EventRecord[]}
   */
  held = [];
  /** Held events dropped because MAX_HELD were held already. */
  heldOverflow = 0;
  /** Events dropped in drop mode during this pause. */
  dropped = 0;
  paused = false;
  /**
   * Events received per type, held and dropped ones included.
   * @type {Map<string, number>}
   */
  counts = new Map();
  /**
   * Session id → title ("" when not known), the latest seen last.
   * @type {Map<string, string>}
   */
  sessions = new Map();
  /**
   * Session id → its parent's, for the subagent sessions seen created or updated.
   * @type {Map<string, string>}
   */
  parents = new Map();
  /** Goes up whenever a type is counted for the first time, or the counts are cleared. */
  typesVersion = 0;
  /** Goes up whenever `sessions` changes. */
  sessionsVersion = 0;
  /** Events received in all. */
  total = 0;
  lastEventId = "";
  /** @type {Date | undefined} */
  lastHeartbeat = undefined;
  /** @type {string[] | undefined} */
  #sortedTypes = undefined;

  /**
   * Takes in a received event: counts it, remembers its session, and keeps it — or, while
   * paused, holds it back (`hold`) or drops it (`drop`).
   * @param {EventRecord} record
   * @param {PauseMode} pauseMode
   */
  receive(record, pauseMode) {
    this.total++;
    const seen = (this.counts.get(record.type) ?? 0) + 1;
    this.counts.set(record.type, seen);
    if (seen === 1) this.#typesChanged();
    if (record.lastEventId) this.lastEventId = record.lastEventId;
    if (record.type === "server.heartbeat") this.lastHeartbeat = record.time;
    if (record.session) this.#rememberSession(record.session, record.sessionTitle);
    if (record.session && record.sessionParent) this.#rememberParent(record.session, record.sessionParent);
    if (!this.paused) {
      this.#keep(record);
    } else if (pauseMode === "drop") {
      this.dropped++;
    } else {
      this.held.push(record);
      if (this.held.length > MAX_HELD) {
        this.held.shift();
        this.heldOverflow++;
      }
    }
  }

  /**
   * Pauses (counting drops afresh), or resumes, keeping what was held.
   * @param {boolean} paused
   */
  setPaused(paused) {
    this.paused = paused;
    if (paused) {
      this.dropped = 0;
      this.heldOverflow = 0;
    } else {
      for (const record of this.held) this.#keep(record);
      this.held = [];
    }
  }

  /** Forgets every event, count and session (a pause goes on). */
  clear() {
    this.records = [];
    this.fresh = [];
    this.forgotten = [];
    this.held = [];
    this.heldOverflow = 0;
    this.dropped = 0;
    this.counts.clear();
    this.sessions.clear();
    this.parents.clear();
    this.#typesChanged();
    this.sessionsVersion++;
    this.total = 0;
    this.lastEventId = "";
    this.lastHeartbeat = undefined;
  }

  /**
   * Keeps only the events `keep` accepts (those a narrower stream would have carried), held
   * ones included, and counts them afresh; the sessions seen are still suggested.
   * @param {(record: EventRecord) => boolean} keep
   */
  retain(keep) {
    this.records = this.records.filter(keep);
    this.held = this.held.filter(keep);
    this.fresh = [];
    this.forgotten = [];
    this.heldOverflow = 0;
    this.dropped = 0;
    this.counts.clear();
    for (const record of [...this.records, ...this.held]) {
      this.counts.set(record.type, (this.counts.get(record.type) ?? 0) + 1);
    }
    this.#typesChanged();
    this.total = this.records.length + this.held.length;
  }

  /**
   * Whether `session` is `root` or, as far as the events received tell, one of its
   * subagents (or theirs).
   * @param {string} session
   * @param {string} root
   */
  isWithin(session, root) {
    /** @type {string | undefined} */
    let id = session;
    for (let depth = 0; id !== undefined && depth < MAX_LINEAGE; depth++) {
      if (id === root) return true;
      id = this.parents.get(id);
    }
    return false;
  }

  /**
   * What changed since the last call: the events kept meanwhile, and those forgotten.
   * @returns {{ fresh: EventRecord[], forgotten: EventRecord[] }}
   */
  takeChanges() {
    const changes = { fresh: this.fresh, forgotten: this.forgotten };
    this.fresh = [];
    this.forgotten = [];
    return changes;
  }

  /** The types counted, sorted. */
  types() {
    this.#sortedTypes ??= [...this.counts.keys()].sort();
    return this.#sortedTypes;
  }

  /** @param {EventRecord} record */
  #keep(record) {
    this.records.push(record);
    this.fresh.push(record);
    while (this.records.length > MAX_ROWS) {
      const old = this.records.shift();
      if (old) this.forgotten.push(old);
    }
  }

  #typesChanged() {
    this.typesVersion++;
    this.#sortedTypes = undefined;
  }

  /**
   * Remembers a session as the latest seen, with its title when the event gives one.
   * @param {string} id
   * @param {string | undefined} title
   */
  #rememberSession(id, title) {
    const known = this.sessions.get(id);
    if (known !== undefined && (title === undefined || title === known)) return;
    this.sessions.delete(id);
    this.sessions.set(id, title ?? known ?? "");
    for (const oldest of this.sessions.keys()) {
      if (this.sessions.size <= MAX_SESSIONS) break;
      this.sessions.delete(oldest);
    }
    this.sessionsVersion++;
  }

  /**
   * @param {string} id
   * @param {string} parent
   */
  #rememberParent(id, parent) {
    this.parents.delete(id);
    this.parents.set(id, parent);
    for (const oldest of this.parents.keys()) {
      if (this.parents.size <= MAX_PARENTS) break;
      this.parents.delete(oldest);
    }
  }
}
