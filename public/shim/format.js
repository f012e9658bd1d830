// @ts-check
// The words of the live event view: how a received frame is read into a record, the line
// each kind of event is summed up in, the status line, the pause note, why a stream was
// refused, and the URLs the page asks. Pure: no DOM, no globals, so it also runs in Node.

/**
 * The stream the page follows: `instance` is one directory's `/event`, `global` the whole
 * server's `/global/event`.
 * @typedef {"instance" | "global"} Source
 */

/**
 * The stream's state, as the status line and its `data-state` say it.
 * @typedef {"connecting" | "connected" | "reconnecting" | "failed"} Phase
 */

/**
 * The shim's health (GET /shim/health), or `unknown` when its answer could not be read.
 * @typedef {"ok" | "degraded" | "unavailable" | "unknown"} Health
 */

/**
 * What happens to events that arrive while paused.
 * @typedef {"hold" | "drop"} PauseMode
 */

/**
 * One received frame, as the list shows it.
 * @typedef {object} EventRecord
 * @property {Date} time When the page received it.
 * @property {string} type The event's type; `(not JSON)` or `(no type)` when it has none.
 * @property {string | undefined} session The session it is about, if any.
 * @property {string | undefined} sessionTitle The title it gives its session (session.created/updated).
 * @property {string | undefined} sessionParent The parent it gives its session (a subagent's caller).
 * @property {string | undefined} directory Its directory (on the whole-server stream).
 * @property {string} summary A short line about it.
 * @property {string} lastEventId The SSE `id:`, else the event's own `id`, else "".
 * @property {unknown} value The frame parsed as JSON, else its text.
 */

/**
 * What the list shows: the filter inputs' values.
 * @typedef {object} Filter
 * @property {string} type A part of the event type (empty: any).
 * @property {string} session A part of the session id (empty: any); "" too while the stream
 *   follows that session on the shim, which also sends its subagents' events.
 * @property {boolean} heartbeats Whether server.heartbeat events show.
 */

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `text` as a string of at most `length` characters, ending in `…` when cut.
 * @param {unknown} text
 * @param {number} length
 */
export function truncate(text, length) {
  const value = String(text);
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}

/**
 * `text`, truncated, in double quotes as JSON writes a string.
 * @param {unknown} text
 * @param {number} [length]
 */
export function quote(text, length = 100) {
  return JSON.stringify(truncate(text ?? "", length));
}

/**
 * `value` as short JSON; "" for nothing or an empty object.
 * @param {unknown} value
 */
function compact(value) {
  if (value === undefined) return "";
  const text = JSON.stringify(value);
  return text === "{}" ? "" : truncate(text, 160);
}

/**
 * @param {number} number
 * @param {number} [width]
 */
function pad(number, width = 2) {
  return String(number).padStart(width, "0");
}

/**
 * The local time of day to the millisecond: `HH:MM:SS.mmm`.
 * @param {Date} date
 */
export function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/**
 * The family of an event type, for its `kind-…` class: `session` for `session.idle`.
 * @param {string} type
 */
export function kindOf(type) {
  return (type.split(".")[0] ?? "").replace(/[^a-z-]/g, "");
}

/**
 * The session an event is about: its `sessionID`, its info's or its part's, or (for
 * session.* events) the session's own id.
 * @param {string} type
 * @param {unknown} properties
 * @returns {string | undefined}
 */
export function sessionOf(type, properties) {
  if (!isObject(properties)) return undefined;
  const info = isObject(properties.info) ? properties.info : undefined;
  const part = isObject(properties.part) ? properties.part : undefined;
  const id =
    properties.sessionID ??
    info?.sessionID ??
    part?.sessionID ??
    (type.startsWith("session.") ? info?.id : undefined);
  return typeof id === "string" && id !== "" ? id : undefined;
}

/** @param {unknown} part */
function partSummary(part) {
  if (!isObject(part)) return "";
  switch (part.type) {
    case "text":
    case "reasoning":
      return `${part.type} ${quote(part.text ?? "")}`;
    case "tool": {
      const state = isObject(part.state) ? part.state : undefined;
      const title = state?.title ? ` — ${truncate(state.title, 60)}` : "";
      return `tool ${part.tool ?? "?"} ${state?.status ?? ""}${title}`;
    }
    case "step-finish":
      return `step-finish${part.reason ? ` (${part.reason})` : ""}`;
    case "file":
      return `file ${part.filename ?? part.url ?? ""}`;
    default:
      return String(part.type ?? "part");
  }
}

/** @param {unknown} info */
function messageSummary(info) {
  if (!isObject(info)) return "";
  const bits = [String(info.role ?? "message"), String(info.id ?? "")];
  if (isObject(info.time) && info.time.completed) bits.push("completed");
  if (info.finish) bits.push(`finish: ${info.finish}`);
  if (isObject(info.error)) bits.push(`error: ${info.error.name ?? "?"}`);
  return bits.join(" ");
}

/** @param {unknown} status */
function statusSummary(status) {
  if (!isObject(status)) return "";
  if (status.type === "retry") {
    return `retry #${status.attempt ?? "?"}${status.message ? ` — ${truncate(status.message, 80)}` : ""}`;
  }
  return String(status.type ?? "");
}

/** @param {Record<string, unknown>} p session.error's properties */
function errorSummary(p) {
  if (!isObject(p.error)) return compact(p);
  const data = isObject(p.error.data) ? p.error.data : undefined;
  return `${p.error.name ?? "error"}${data?.message ? `: ${truncate(data.message, 100)}` : ""}`;
}

/**
 * A short line about an event: the text of a delta, a part's type, a status…
 * @param {string} type
 * @param {unknown} properties
 * @returns {string}
 */
export function summarize(type, properties) {
  if (!isObject(properties)) return compact(properties);
  const p = properties;
  switch (type) {
    case "message.part.delta":
      return `${p.field ?? "text"} += ${quote(p.delta ?? "")}`;
    case "message.part.updated":
      return partSummary(p.part);
    case "message.part.removed":
      return `part ${p.partID ?? ""} removed`;
    case "message.updated":
      return messageSummary(p.info);
    case "message.removed":
      return `message ${p.messageID ?? ""} removed`;
    case "session.created":
    case "session.updated":
    case "session.deleted":
      return isObject(p.info) ? quote(p.info.title ?? "", 80) : "";
    case "session.status":
      return statusSummary(p.status);
    case "session.idle":
      return "idle";
    case "session.diff":
      return `${Array.isArray(p.diff) ? p.diff.length : 0} file(s) changed`;
    case "session.error":
      return errorSummary(p);
    case "permission.asked":
      return `${p.permission ?? p.type ?? "permission"} ${Array.isArray(p.patterns) ? p.patterns.join(", ") : ""}`;
    case "permission.replied":
      return `reply: ${p.reply ?? p.response ?? "?"}`;
    case "question.asked": {
      const first = Array.isArray(p.questions) && isObject(p.questions[0]) ? p.questions[0] : undefined;
      return first ? quote(first.question ?? first.header ?? "") : compact(p);
    }
    case "todo.updated": {
      const todos = Array.isArray(p.todos) ? p.todos : [];
      const done = todos.filter((todo) => isObject(todo) && todo.status === "completed").length;
      return `${todos.length} todo(s), ${done} done`;
    }
    case "server.instance.disposed":
      return `instance ${p.directory ?? ""} disposed`;
    case "server.connected":
      return "stream open";
    case "server.heartbeat":
      return "";
    default:
      return compact(p);
  }
}

/**
 * Reads one received frame (`data`, the SSE `id:` as `lastEventId`) into a record. On the
 * whole-server stream (`global`) frames are `{directory, project, workspace?, payload}`.
 * @param {string} data
 * @param {string} lastEventId
 * @param {{ global: boolean, time?: Date }} how
 * @returns {EventRecord}
 */
export function toRecord(data, lastEventId, { global, time = new Date() }) {
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(data);
  } catch {
    parsed = undefined;
  }
  /** @type {EventRecord} */
  const record = {
    time,
    type: "(not JSON)",
    session: undefined,
    sessionTitle: undefined,
    sessionParent: undefined,
    directory: undefined,
    summary: truncate(data, 160),
    lastEventId: lastEventId || "",
    value: parsed ?? data,
  };
  if (!isObject(parsed)) return record;
  let event = parsed;
  if (global) {
    event = isObject(parsed.payload) ? parsed.payload : {};
    if (typeof parsed.directory === "string") record.directory = parsed.directory;
  }
  if (event.type === "sync" && isObject(event.syncEvent)) {
    const sync = event.syncEvent;
    record.type = "sync";
    record.session = sessionOf("", sync.data);
    record.summary = `${sync.type ?? "?"} seq ${sync.seq ?? "?"}`;
  } else {
    record.type = typeof event.type === "string" ? event.type : "(no type)";
    record.session = sessionOf(record.type, event.properties);
    record.summary = summarize(record.type, event.properties);
  }
  if (!record.lastEventId && typeof event.id === "string") record.lastEventId = event.id;
  const info =
    isObject(event.properties) && isObject(event.properties.info) ? event.properties.info : undefined;
  if (record.session && info && (record.type === "session.created" || record.type === "session.updated")) {
    record.sessionTitle = String(info.title ?? "");
    if (typeof info.parentID === "string" && info.parentID !== "") record.sessionParent = info.parentID;
  }
  return record;
}

/**
 * Whether the list shows `record` under `filter`.
 * @param {EventRecord} record
 * @param {Filter} filter
 */
export function matches(record, filter) {
  if (record.type === "server.heartbeat" && !filter.heartbeats) return false;
  const type = filter.type.trim();
  if (type && !record.type.includes(type)) return false;
  const session = filter.session.trim();
  if (session && !(record.session ?? "").includes(session)) return false;
  return true;
}

// ---------------------------------------------------------------- the session followed

/** What a whole opencode session id looks like (`ses_` and its time and random parts). */
export const SESSION_ID = /^ses_[0-9A-Za-z]{10,}$/;

/**
 * The session the stream should follow on the shim (`/event?session=`, which also sends its
 * subagents' events) for the session filter's `value`: a whole session id on an instance's
 * stream, one the page has seen (every suggestion is one) or one the user entered (Enter,
 * pasted, picked, or in the page's URL) — not a prefix still being typed. "" for the whole
 * stream, the filter then hiding rows in the page only.
 * @param {Source} source
 * @param {string} value
 * @param {{ known: { has(id: string): boolean }, entered: boolean }} how
 */
export function sessionToFollow(source, value, { known, entered }) {
  const id = value.trim();
  return source === "instance" && SESSION_ID.test(id) && (entered || known.has(id)) ? id : "";
}

// ---------------------------------------------------------------- URLs

/**
 * `url` with the query parameter `name=value` added, unless `value` is empty.
 * @param {string} url
 * @param {string} name
 * @param {string | null | undefined} value
 */
function withParam(url, name, value) {
  if (!value) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${name}=${encodeURIComponent(value)}`;
}

/**
 * `url` with `authToken` as `auth_token` (opencode's way for a browser that cannot send
 * HTTP Basic), when there is one.
 * @param {string} url
 * @param {string | null | undefined} authToken
 */
export function withAuth(url, authToken) {
  return withParam(url, "auth_token", authToken);
}

/**
 * `url` resuming after the event `lastEventId` (the shim's `?lastEventID=`, for a stream
 * EventSource cannot send a `Last-Event-ID` header for: one the page opens itself).
 * @param {string} url
 * @param {string} lastEventId "" to start afresh
 */
export function withResume(url, lastEventId) {
  return withParam(url, "lastEventID", lastEventId);
}

/**
 * The stream's URL, relative to the page at /shim/.
 * @param {Source} source
 * @param {string} directory "" for opencode's own directory
 * @param {string | null | undefined} authToken
 * @param {string} [session] the session followed on an instance's stream, "" for all
 */
export function streamUrl(source, directory, authToken, session = "") {
  if (source === "global") return withAuth("../global/event", authToken);
  const url = withParam(withParam("../event", "directory", directory), "session", session);
  return withAuth(url, authToken);
}

/**
 * The stream as the status line names it.
 * @param {Source} source
 * @param {string} directory
 * @param {string} [session]
 */
export function streamLabel(source, directory, session = "") {
  if (source === "global") return "/global/event";
  const stream = directory ? `/event?directory=${directory}` : "/event (opencode's own directory)";
  return session ? `${stream}, session ${session} and its subagents` : stream;
}

/**
 * The page's own query for what it follows, so that opening its URL follows it again.
 * @param {Source} source
 * @param {string} directory
 * @param {string | null | undefined} authToken
 * @param {string} [session] the session followed on an instance's stream
 * @returns {string} "" or `?…`
 */
export function pageQuery(source, directory, authToken, session = "") {
  const params = new URLSearchParams();
  if (source === "global") params.set("source", "global");
  else {
    if (directory) params.set("directory", directory);
    if (session) params.set("session", session);
  }
  if (authToken) params.set("auth_token", authToken);
  const query = params.toString();
  return query ? `?${query}` : "";
}

// ---------------------------------------------------------------- what the page says

/** @type {Record<Phase, string>} */
const PHASE_WORDS = {
  connecting: "connecting to",
  connected: "connected to",
  reconnecting: "reconnecting to",
  failed: "cannot open",
};

/**
 * The status line: the stream and its state, then what went wrong, the events received,
 * the last event id and heartbeat, and the shim's health when it is not ok.
 * @param {object} status
 * @param {Phase} status.phase
 * @param {string} status.label The stream, from {@link streamLabel}.
 * @param {string} status.problem
 * @param {number} status.total
 * @param {string} status.lastEventId
 * @param {Date | undefined} status.lastHeartbeat
 * @param {Health} status.health
 * @param {string} status.healthReason
 */
export function statusLine(status) {
  const bits = [`${PHASE_WORDS[status.phase]} ${status.label}`];
  if (status.problem) bits.push(status.problem);
  bits.push(`${status.total} event${status.total === 1 ? "" : "s"}`);
  if (status.lastEventId) bits.push(`last event id ${status.lastEventId}`);
  if (status.lastHeartbeat) bits.push(`last heartbeat ${clock(status.lastHeartbeat)}`);
  if (status.health === "degraded" || status.health === "unavailable") {
    bits.push(`shim ${status.health}${status.healthReason ? `: ${status.healthReason}` : ""}`);
  }
  return bits.join(" · ");
}

/**
 * The note under the controls while paused, and after a pause that dropped events;
 * `undefined` when there is nothing to say.
 * @param {object} pause
 * @param {boolean} pause.paused
 * @param {PauseMode} pause.mode
 * @param {number} pause.held Events held back, to show on resume.
 * @param {number} pause.heldOverflow Held events dropped because too many were held.
 * @param {number} pause.dropped Events dropped in drop mode.
 * @param {number} pause.maxHeld
 * @returns {string | undefined}
 */
export function pauseNote({ paused, mode, held, heldOverflow, dropped, maxHeld }) {
  if (paused) {
    if (mode === "drop") {
      const before = held > 0 ? ` ${held} held from before will show on resume.` : "";
      return `Paused: new events are dropped — ${dropped} so far. They are counted above but never shown.${before}`;
    }
    const overflow =
      heldOverflow > 0 ? ` (${heldOverflow} older ones dropped: at most ${maxHeld} are held)` : "";
    const lost = dropped > 0 ? ` ${dropped} dropped.` : "";
    return `Paused: ${held} new event${held === 1 ? "" : "s"} held back${overflow}; they appear when you resume.${lost}`;
  }
  if (dropped > 0 || heldOverflow > 0) {
    return `${dropped + heldOverflow} event(s) were dropped while paused (counted above, not shown).`;
  }
  return undefined;
}

/** What the page says of a stream that answered as a stream, then failed anyway. */
export const OPENED_THEN_FAILED = "the stream opened, then failed";

/**
 * Why the browser gave up on a stream, from the answer the same URL gets from fetch when it
 * is not an event stream: its status, its content type and its body's text (or message).
 * @param {number} status
 * @param {string} contentType
 * @param {string} body
 */
export function explainRefusal(status, contentType, body) {
  if (status === 401) {
    return "HTTP 401: not authorized — opencode needs its credentials (open this page with them, or with ?auth_token=)";
  }
  let text = body;
  try {
    const parsed = JSON.parse(body);
    if (isObject(parsed)) text = String(parsed.message ?? parsed.error ?? body);
  } catch {}
  text = truncate(text, 300);
  const ok = status >= 200 && status < 300;
  return `HTTP ${status}${ok ? ` (${contentType || "no content type"}, not an event stream)` : ""}${text ? `: ${text}` : ""}`;
}

/**
 * What the page says of a stream it could not reach at all.
 * @param {unknown} error
 */
export function explainUnreachable(error) {
  return `the shim cannot be reached (${error instanceof Error ? error.message : String(error)})`;
}

/** @type {readonly unknown[]} */
const HEALTH_WORDS = ["ok", "degraded", "unavailable"];

/**
 * Reads GET /shim/health's JSON body. Anything that is not the shim's answer is `unknown`.
 * @param {unknown} body
 * @returns {{ health: Health, reason: string }}
 */
export function readHealth(body) {
  if (!isObject(body) || !HEALTH_WORDS.includes(body.status)) return { health: "unknown", reason: "" };
  const health = /** @type {Health} */ (body.status);
  return { health, reason: typeof body.reason === "string" ? truncate(body.reason, 300) : "" };
}
