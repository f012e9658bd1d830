// The live event view: follows the shim's /event (one directory) or /global/event (the
// whole server) with the browser's EventSource and lists what arrives, newest first.
// Plain browser JavaScript, served as it is: no build step, no framework, no outside URLs.

/** Events kept (and rows shown) at most; older ones are forgotten. */
const MAX_ROWS = 2000;
/** Events held back while paused, at most; past that the oldest held ones are dropped. */
const MAX_HELD = 2000;
/** Sessions remembered for the session filter's suggestions. */
const MAX_SESSIONS = 200;
/** How long a stream the browser gave up on waits before it is opened again, at most. */
const MAX_RETRY_MS = 30_000;
/** How often the shim's own health (GET /shim/health) is asked. */
const HEALTH_EVERY_MS = 5000;
/**
 * The credentials the page was opened with as `?auth_token=` (opencode's way for a browser
 * that cannot send HTTP Basic): every request the page makes carries them on. Credentials
 * the browser was asked for (HTTP Basic) it sends by itself.
 */
const AUTH_TOKEN = new URLSearchParams(location.search).get("auth_token");

/** `url` with the page's `auth_token`, if it was opened with one. */
function withAuth(url) {
  if (!AUTH_TOKEN) return url;
  return `${url}${url.includes("?") ? "&" : "?"}auth_token=${encodeURIComponent(AUTH_TOKEN)}`;
}

const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
};

const ui = {
  status: $("status"),
  statusText: $("status-text"),
  sourceForm: $("source-form"),
  source: $("source"),
  directory: $("directory"),
  directories: $("directories"),
  typeFilter: $("type-filter"),
  types: $("types"),
  sessionFilter: $("session-filter"),
  sessions: $("sessions"),
  showHeartbeats: $("show-heartbeats"),
  pauseMode: $("pause-mode"),
  pause: $("pause"),
  clear: $("clear"),
  pauseNote: $("pause-note"),
  counts: $("counts"),
  events: $("events"),
  empty: $("empty"),
  footer: $("footer"),
};

const state = {
  /** "instance" (/event) or "global" (/global/event), as connected. */
  source: "instance",
  directory: "",
  /** @type {EventSource | null} */
  stream: null,
  url: "",
  /** connecting | connected | reconnecting | failed */
  phase: "connecting",
  problem: "",
  /** Streams the browser gave up on in a row (for the retry delay). */
  failures: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  retryTimer: undefined,
  /** The shim's health: ok | degraded | unavailable, or unknown when its answer could not be read. */
  health: "unknown",
  healthReason: "",
  healthAsking: false,
  /** Kept events, oldest first. */
  records: [],
  /** Kept events not yet drawn. */
  pending: [],
  /** @type {Map<string, number>} */
  counts: new Map(),
  /** @type {Map<string, string>} session id → title */
  sessions: new Map(),
  total: 0,
  lastEventId: "",
  /** @type {Date | undefined} */
  lastHeartbeat: undefined,
  paused: false,
  held: [],
  heldOverflow: 0,
  dropped: 0,
  seq: 0,
  drawScheduled: false,
  listsChanged: true,
};

/** @type {WeakMap<Element, object>} row element → its event record */
const recordOfRow = new WeakMap();

// ---------------------------------------------------------------- reading events

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function truncate(text, length) {
  const value = String(text);
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}

function quote(text, length = 100) {
  return JSON.stringify(truncate(text ?? "", length));
}

function sessionOf(type, properties) {
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

function partSummary(part) {
  if (!isObject(part)) return "";
  switch (part.type) {
    case "text":
    case "reasoning":
      return `${part.type} ${quote(part.text ?? "")}`;
    case "tool": {
      const status = isObject(part.state) ? part.state.status : undefined;
      const title = isObject(part.state) && part.state.title ? ` — ${truncate(part.state.title, 60)}` : "";
      return `tool ${part.tool ?? "?"} ${status ?? ""}${title}`;
    }
    case "step-finish":
      return `step-finish${part.reason ? ` (${part.reason})` : ""}`;
    case "file":
      return `file ${part.filename ?? part.url ?? ""}`;
    default:
      return String(part.type ?? "part");
  }
}

function messageSummary(info) {
  if (!isObject(info)) return "";
  const bits = [String(info.role ?? "message"), String(info.id ?? "")];
  if (isObject(info.time) && info.time.completed) bits.push("completed");
  if (info.finish) bits.push(`finish: ${info.finish}`);
  if (isObject(info.error)) bits.push(`error: ${info.error.name ?? "?"}`);
  return bits.join(" ");
}

function statusSummary(status) {
  if (!isObject(status)) return "";
  if (status.type === "retry") {
    return `retry #${status.attempt ?? "?"}${status.message ? ` — ${truncate(status.message, 80)}` : ""}`;
  }
  return String(status.type ?? "");
}

function compact(value) {
  if (value === undefined) return "";
  const text = JSON.stringify(value);
  return text === "{}" ? "" : truncate(text, 160);
}

/** A short line about an event: the text of a delta, a part's type, a status… */
function summarize(type, properties) {
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
      return isObject(p.error)
        ? `${p.error.name ?? "error"}${isObject(p.error.data) && p.error.data.message ? `: ${truncate(p.error.data.message, 100)}` : ""}`
        : compact(p);
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

/** One received frame, as the list shows it. */
function toRecord(data, lastEventId) {
  let parsed;
  try {
    parsed = JSON.parse(data);
  } catch {
    parsed = undefined;
  }
  const record = {
    n: ++state.seq,
    time: new Date(),
    type: "(not JSON)",
    session: undefined,
    directory: undefined,
    summary: truncate(data, 160),
    lastEventId: lastEventId || "",
    value: parsed ?? data,
  };
  if (!isObject(parsed)) return record;
  let event = parsed;
  if (state.source === "global") {
    // /global/event: {directory, project, workspace?, payload}
    event = isObject(parsed.payload) ? parsed.payload : {};
    if (typeof parsed.directory === "string") {
      record.directory = parsed.directory;
      knowDirectory(parsed.directory);
    }
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
  if (
    record.session &&
    (record.type === "session.created" || record.type === "session.updated") &&
    isObject(event.properties?.info)
  ) {
    rememberSession(record.session, String(event.properties.info.title ?? ""));
  } else if (record.session) {
    rememberSession(record.session, undefined);
  }
  return record;
}

function rememberSession(id, title) {
  const known = state.sessions.get(id);
  if (known !== undefined && (title === undefined || title === known)) return;
  state.sessions.delete(id);
  state.sessions.set(id, title ?? known ?? "");
  while (state.sessions.size > MAX_SESSIONS) {
    const oldest = state.sessions.keys().next().value;
    state.sessions.delete(oldest);
  }
  state.listsChanged = true;
}

// ---------------------------------------------------------------- the stream

function streamPath() {
  if (state.source === "global") return withAuth("../global/event");
  return withAuth(state.directory ? `../event?directory=${encodeURIComponent(state.directory)}` : "../event");
}

function streamLabel() {
  if (state.source === "global") return "/global/event";
  return state.directory ? `/event?directory=${state.directory}` : "/event (opencode's own directory)";
}

/** Opens the stream the form names, starting the list afresh. */
function connect() {
  state.source = ui.source.value === "global" ? "global" : "instance";
  state.directory = ui.directory.value.trim();
  document.body.classList.toggle("global", state.source === "global");
  ui.directory.disabled = state.source === "global";
  const params = new URLSearchParams();
  if (state.source === "global") params.set("source", "global");
  else if (state.directory) params.set("directory", state.directory);
  if (AUTH_TOKEN) params.set("auth_token", AUTH_TOKEN);
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`);
  clearEvents();
  state.failures = 0;
  open();
}

function open() {
  close();
  const url = streamPath();
  const stream = new EventSource(url);
  state.stream = stream;
  state.url = url;
  state.problem = "";
  setPhase("connecting");
  stream.onopen = () => {
    if (state.stream !== stream) return;
    state.failures = 0;
    state.problem = "";
    setPhase("connected");
    void checkHealth();
  };
  stream.onmessage = (message) => {
    if (state.stream === stream) receive(message);
  };
  stream.onerror = () => {
    if (state.stream !== stream) return;
    // CONNECTING: the browser reconnects by itself, sending Last-Event-ID, so nothing is missed.
    if (stream.readyState === EventSource.CONNECTING) {
      setPhase("reconnecting");
      void checkHealth();
      return;
    }
    // CLOSED: the browser gave up (an HTTP error, or not an event stream). Find out why, and retry.
    stream.close();
    state.stream = null;
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** Math.min(state.failures, 5));
    state.failures++;
    state.problem = `retrying in ${delay / 1000} s`;
    setPhase("failed");
    state.retryTimer = setTimeout(open, delay);
    void diagnose(url).then((why) => {
      if (state.stream === null && state.url === url) {
        state.problem = `${why}; retrying in ${delay / 1000} s`;
        showStatus();
      }
    });
  };
}

function close() {
  clearTimeout(state.retryTimer);
  state.retryTimer = undefined;
  if (state.stream) state.stream.close();
  state.stream = null;
}

/** Asks the same URL with fetch, to say why EventSource gave up on it. */
async function diagnose(url) {
  const controller = new AbortController();
  try {
    const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
    const type = response.headers.get("content-type") ?? "";
    if (response.ok && type.startsWith("text/event-stream")) {
      controller.abort();
      return "the stream opened, then failed";
    }
    if (response.status === 401)
      return "HTTP 401: not authorized — opencode needs its credentials (open this page with them, or with ?auth_token=)";
    let text = truncate(await response.text(), 300);
    try {
      const body = JSON.parse(text);
      if (isObject(body)) text = String(body.message ?? body.error ?? text);
    } catch {}
    return `HTTP ${response.status}${response.ok ? ` (${type || "no content type"}, not an event stream)` : ""}${text ? `: ${text}` : ""}`;
  } catch (error) {
    return `the shim cannot be reached (${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * Asks GET /shim/health, one request at a time. An answer that is not the shim's JSON (a 401
 * from a password-protected opencode, a proxy's error page) or no answer leaves health unknown.
 */
async function checkHealth() {
  if (state.healthAsking || document.hidden) return;
  state.healthAsking = true;
  let health = "unknown";
  let reason = "";
  try {
    // The timeout keeps a request that never ends from stopping every later check.
    const response = await fetch(withAuth("health"), {
      cache: "no-store",
      signal: AbortSignal.timeout(10_000),
    });
    const body = await response.json();
    if (isObject(body) && ["ok", "degraded", "unavailable"].includes(body.status)) {
      health = body.status;
      reason = typeof body.reason === "string" ? truncate(body.reason, 300) : "";
    }
  } catch {
    // Unreachable, or not JSON: unknown.
  } finally {
    state.healthAsking = false;
  }
  state.health = health;
  state.healthReason = reason;
  showStatus();
}

function receive(message) {
  const record = toRecord(message.data, message.lastEventId);
  state.total++;
  const seen = (state.counts.get(record.type) ?? 0) + 1;
  state.counts.set(record.type, seen);
  if (seen === 1) state.listsChanged = true;
  if (record.lastEventId) state.lastEventId = record.lastEventId;
  if (record.type === "server.heartbeat") state.lastHeartbeat = record.time;
  if (state.paused) {
    if (ui.pauseMode.value === "drop") {
      state.dropped++;
    } else {
      state.held.push(record);
      if (state.held.length > MAX_HELD) {
        state.held.shift();
        state.heldOverflow++;
      }
    }
    showPauseNote();
  } else {
    keep(record);
  }
  scheduleDraw();
}

/** Adds a record to the kept ones, forgetting the oldest past MAX_ROWS. */
function keep(record) {
  state.records.push(record);
  if (matches(record)) state.pending.push(record);
  while (state.records.length > MAX_ROWS) {
    const old = state.records.shift();
    old.gone = true;
    old.row?.remove();
    old.row = undefined;
  }
}

// ---------------------------------------------------------------- drawing

function matches(record) {
  if (record.type === "server.heartbeat" && !ui.showHeartbeats.checked) return false;
  const type = ui.typeFilter.value.trim();
  if (type && !record.type.includes(type)) return false;
  const session = ui.sessionFilter.value.trim();
  if (session && !(record.session ?? "").includes(session)) return false;
  return true;
}

function pad(number, width = 2) {
  return String(number).padStart(width, "0");
}

function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function cell(className, text, title) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

function rowOf(record) {
  if (record.row) return record.row;
  const row = document.createElement("div");
  row.className = `ev kind-${record.type.split(".")[0].replace(/[^a-z-]/g, "")}`;
  row.dataset.type = record.type;
  if (record.session) row.dataset.session = record.session;
  if (record.directory) row.dataset.directory = record.directory;
  const line = document.createElement("div");
  line.className = "row";
  line.tabIndex = 0;
  line.setAttribute("role", "button");
  line.setAttribute("aria-expanded", "false");
  line.append(
    cell("time", clock(record.time), record.lastEventId ? `event id ${record.lastEventId}` : undefined),
    cell("dir", record.directory ?? "", record.directory),
    cell("type", record.type),
    cell("session", record.session ?? "", record.session ? (state.sessions.get(record.session) ?? "") : ""),
    cell("summary", record.summary),
  );
  row.append(line);
  recordOfRow.set(row, record);
  record.row = row;
  return row;
}

function toggle(row) {
  const record = recordOfRow.get(row);
  if (!record) return;
  const line = row.querySelector(".row");
  const shown = row.querySelector("pre");
  if (shown) {
    shown.remove();
    line?.setAttribute("aria-expanded", "false");
    return;
  }
  const pre = document.createElement("pre");
  pre.textContent = typeof record.value === "string" ? record.value : JSON.stringify(record.value, null, 2);
  row.append(pre);
  line?.setAttribute("aria-expanded", "true");
}

function scheduleDraw() {
  if (state.drawScheduled) return;
  state.drawScheduled = true;
  // A timer rather than requestAnimationFrame: it also runs (slower) in a background tab.
  setTimeout(draw, 40);
}

/** Draws what arrived since the last draw, newest on top. */
function draw() {
  state.drawScheduled = false;
  if (state.pending.length > 0) {
    const fragment = document.createDocumentFragment();
    for (let i = state.pending.length - 1; i >= 0; i--) {
      const record = state.pending[i];
      if (!record.gone) fragment.append(rowOf(record));
    }
    state.pending = [];
    ui.events.prepend(fragment);
  }
  showCounts();
  showLists();
  showStatus();
  ui.empty.hidden = ui.events.firstChild !== null;
}

/** Draws the whole list again, after a filter changed. */
function redraw() {
  state.pending = [];
  const fragment = document.createDocumentFragment();
  for (let i = state.records.length - 1; i >= 0; i--) {
    const record = state.records[i];
    if (matches(record)) fragment.append(rowOf(record));
  }
  ui.events.replaceChildren(fragment);
  draw();
}

function showCounts() {
  const types = [...state.counts.keys()].sort();
  if (types.length === 0) {
    const none = document.createElement("span");
    none.className = "none";
    none.textContent = "none yet";
    ui.counts.replaceChildren(none);
    return;
  }
  const selected = ui.typeFilter.value.trim();
  const chips = types.map((type) => {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = `chip kind-${type.split(".")[0].replace(/[^a-z-]/g, "")}`;
    if (type === selected) chip.classList.add("selected");
    chip.dataset.type = type;
    chip.title = type === selected ? "show every type" : `show only ${type}`;
    chip.append(cell("t", type), cell("n", String(state.counts.get(type) ?? 0)));
    return chip;
  });
  ui.counts.replaceChildren(...chips);
}

function showLists() {
  if (!state.listsChanged) return;
  state.listsChanged = false;
  const typeOptions = [...state.counts.keys()].sort().map((type) => new Option(type, type));
  ui.types.replaceChildren(...typeOptions);
  const sessionOptions = [...state.sessions]
    .reverse()
    .map(([id, title]) => new Option(title ? `${id} — ${title}` : id, id));
  ui.sessions.replaceChildren(...sessionOptions);
}

function setPhase(phase) {
  state.phase = phase;
  showStatus();
}

function showStatus() {
  ui.status.dataset.state = state.phase;
  ui.status.dataset.health = state.health;
  const words = {
    connecting: "connecting to",
    connected: "connected to",
    reconnecting: "reconnecting to",
    failed: "cannot open",
  };
  const bits = [`${words[state.phase] ?? state.phase} ${streamLabel()}`];
  if (state.problem) bits.push(state.problem);
  bits.push(`${state.total} event${state.total === 1 ? "" : "s"}`);
  if (state.lastEventId) bits.push(`last event id ${state.lastEventId}`);
  if (state.lastHeartbeat) bits.push(`last heartbeat ${clock(state.lastHeartbeat)}`);
  if (state.health === "degraded" || state.health === "unavailable") {
    bits.push(`shim ${state.health}${state.healthReason ? `: ${state.healthReason}` : ""}`);
  }
  ui.statusText.textContent = bits.join(" · ");
}

function showPauseNote() {
  const note = ui.pauseNote;
  note.dataset.held = String(state.held.length);
  note.dataset.dropped = String(state.dropped);
  if (state.paused) {
    note.hidden = false;
    note.className = "paused";
    const overflow =
      state.heldOverflow > 0
        ? ` (${state.heldOverflow} older ones dropped: at most ${MAX_HELD} are held)`
        : "";
    note.textContent =
      ui.pauseMode.value === "drop"
        ? `Paused: new events are dropped — ${state.dropped} so far. They are counted above but never shown.${state.held.length > 0 ? ` ${state.held.length} held from before will show on resume.` : ""}`
        : `Paused: ${state.held.length} new event${state.held.length === 1 ? "" : "s"} held back${overflow}; they appear when you resume.${state.dropped > 0 ? ` ${state.dropped} dropped.` : ""}`;
  } else if (state.dropped > 0 || state.heldOverflow > 0) {
    note.hidden = false;
    note.className = "";
    note.textContent = `${state.dropped + state.heldOverflow} event(s) were dropped while paused (counted above, not shown).`;
  } else {
    note.hidden = true;
  }
}

function setPaused(paused) {
  state.paused = paused;
  ui.pause.textContent = paused ? "Resume" : "Pause";
  ui.pause.setAttribute("aria-pressed", String(paused));
  document.body.classList.toggle("is-paused", paused);
  if (paused) {
    state.dropped = 0;
    state.heldOverflow = 0;
  } else {
    for (const record of state.held) keep(record);
    state.held = [];
    draw();
  }
  showPauseNote();
}

function clearEvents() {
  state.records = [];
  state.pending = [];
  state.held = [];
  state.heldOverflow = 0;
  state.dropped = 0;
  state.counts.clear();
  state.sessions.clear();
  state.total = 0;
  state.lastEventId = "";
  state.lastHeartbeat = undefined;
  state.listsChanged = true;
  ui.events.replaceChildren();
  showPauseNote();
  draw();
}

// ---------------------------------------------------------------- wiring

ui.sourceForm.addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});
ui.source.addEventListener("change", () => {
  ui.directory.disabled = ui.source.value === "global";
});
for (const input of [ui.typeFilter, ui.sessionFilter]) input.addEventListener("input", redraw);
ui.showHeartbeats.addEventListener("change", redraw);
ui.pause.addEventListener("click", () => setPaused(!state.paused));
ui.pauseMode.addEventListener("change", showPauseNote);
ui.clear.addEventListener("click", clearEvents);
ui.counts.addEventListener("click", (event) => {
  const chip = event.target instanceof Element ? event.target.closest(".chip") : null;
  if (!(chip instanceof HTMLElement)) return;
  const type = chip.dataset.type ?? "";
  ui.typeFilter.value = ui.typeFilter.value.trim() === type ? "" : type;
  redraw();
});
ui.events.addEventListener("click", (event) => {
  if (!(event.target instanceof Element) || event.target.closest("pre")) return;
  const row = event.target.closest(".ev");
  if (row) toggle(row);
});
ui.events.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" && event.key !== " ") return;
  if (!(event.target instanceof Element) || !event.target.classList.contains("row")) return;
  event.preventDefault();
  const row = event.target.closest(".ev");
  if (row) toggle(row);
});

ui.footer.textContent = `Keeps the newest ${MAX_ROWS.toLocaleString("en")} events. Times are when this page received them. Click a row for its JSON. Counts include events held or dropped while paused.`;

// ---------------------------------------------------------------- known directories

const knownDirectories = new Set();

/** Offers a directory in the selector's list (once). */
function knowDirectory(directory) {
  if (!directory || directory === "/" || knownDirectories.has(directory)) return;
  knownDirectories.add(directory);
  const option = document.createElement("option");
  option.value = directory;
  ui.directories.append(option);
}

/** The directories opencode knows: its own (GET /path) and its projects' (GET /project). Best effort. */
async function loadDirectories() {
  const sources = [
    ["../path", (body) => [body?.directory]],
    ["../project", (body) => (Array.isArray(body) ? body.map((project) => project?.worktree) : [])],
  ];
  for (const [url, pick] of sources) {
    try {
      const response = await fetch(withAuth(url), { headers: { accept: "application/json" } });
      if (!response.ok) continue;
      for (const directory of pick(await response.json())) {
        if (typeof directory === "string") knowDirectory(directory);
      }
    } catch {
      // The list is a convenience: typing a path works without it.
    }
  }
}

ui.directory.addEventListener("focus", () => void loadDirectories());
setInterval(checkHealth, HEALTH_EVERY_MS);
document.addEventListener("visibilitychange", () => void checkHealth());

const params = new URLSearchParams(location.search);
ui.directory.value = params.get("directory") ?? "";
ui.source.value = params.get("source") === "global" ? "global" : "instance";
connect();
void checkHealth();
void loadDirectories();
