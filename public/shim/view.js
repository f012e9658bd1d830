// @ts-check
// The live event view: follows the shim's /event (one directory, or one session of it and
// its subagents) or /global/event (the whole server) with the browser's EventSource and
// lists what arrives, newest first.
// Plain browser JavaScript modules, served as they are: no build step, no framework, no
// outside URLs. This one wires the page's controls to the others:
//   format.js  reading events, and the words the page says (pure)
//   store.js   the events kept, held, counted (pure)
//   stream.js  the stream followed, and the shim's health
//   draw.js    the page's elements, drawn where they changed

import {
  clearRows,
  currentFilter,
  currentPauseMode,
  drawEvents,
  drawPause,
  drawStatus,
  offerDirectory,
  toggleRow,
  ui,
} from "./draw.js";
import {
  isObject,
  pageQuery,
  sessionToFollow,
  statusLine,
  streamLabel,
  streamUrl,
  toRecord,
  withAuth,
} from "./format.js";
import { EventStore, MAX_ROWS } from "./store.js";
import { HealthCheck, StreamFollower } from "./stream.js";

/** @import { Source } from "./format.js" */

/** How often the shim's own health (GET /shim/health) is asked. */
const HEALTH_EVERY_MS = 5000;
/** How long after an event the page draws it, with whatever else came meanwhile. */
const DRAW_AFTER_MS = 40;
/** How long typing in the session filter pauses before the stream follows what it names. */
const SETTLE_AFTER_MS = 600;

/**
 * The credentials the page was opened with as `?auth_token=` (opencode's way for a browser
 * that cannot send HTTP Basic): every request the page makes carries them on. Credentials
 * the browser was asked for (HTTP Basic) it sends by itself.
 */
const AUTH_TOKEN = new URLSearchParams(location.search).get("auth_token");

/**
 * The stream followed, as connected: `session` is the session (and subagents) the shim
 * sends only, "" for every session.
 * @type {{ source: Source, directory: string, session: string }}
 */
const following = { source: "instance", directory: "", session: "" };
const store = new EventStore();
const health = new HealthCheck(withAuth("health", AUTH_TOKEN), showStatus);
const follower = new StreamFollower({
  onMessage: receive,
  onChange: (phase) => {
    showStatus();
    if (phase === "connected" || phase === "reconnecting") void health.check();
  },
});
let drawScheduled = false;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let settleTimer;

/** Opens the stream the form and the session filter name, starting the list afresh. */
function connect() {
  clearTimeout(settleTimer);
  following.source = ui.source.value === "global" ? "global" : "instance";
  following.directory = ui.directory.value.trim();
  following.session = sessionToFollow(following.source, ui.sessionFilter.value, {
    known: store.sessions,
    entered: true,
  });
  const global = following.source === "global";
  document.body.classList.toggle("global", global);
  ui.directory.disabled = global;
  showPageUrl();
  clearEvents();
  follower.follow(streamUrl(following.source, following.directory, AUTH_TOKEN, following.session));
}

/**
 * Follows the session the session filter names, on the shim, or every session again, when
 * that changed (`entered`: the user entered the value, rather than typed part of it).
 * @param {boolean} entered
 */
function settleSession(entered) {
  clearTimeout(settleTimer);
  const session = sessionToFollow(following.source, ui.sessionFilter.value, {
    known: store.sessions,
    entered,
  });
  if (session !== following.session) followSession(session);
}

/**
 * Opens the instance's stream of `session` and its subagents ("" for every session) in
 * place of the one followed. The rows of what it carries stay (as far as the page knows a
 * session's subagents), and it resumes after the last event received: nothing is missed.
 * @param {string} session
 */
function followSession(session) {
  following.session = session;
  if (session) {
    store.retain((record) => record.session !== undefined && store.isWithin(record.session, session));
  }
  showPageUrl();
  drawPause(store);
  redraw();
  const url = streamUrl(following.source, following.directory, AUTH_TOKEN, session);
  follower.follow(url, follower.lastEventId);
}

/** The page's own URL names what it follows, so that opening it follows that again. */
function showPageUrl() {
  const query = pageQuery(following.source, following.directory, AUTH_TOKEN, following.session);
  history.replaceState(null, "", `${location.pathname}${query}`);
}

/** @param {MessageEvent<string>} message */
function receive(message) {
  const record = toRecord(message.data, message.lastEventId, { global: following.source === "global" });
  if (record.directory) offerDirectory(record.directory);
  store.receive(record, currentPauseMode());
  if (store.paused) drawPause(store);
  scheduleDraw();
}

function scheduleDraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  // A timer rather than requestAnimationFrame: it also runs (slower) in a background tab.
  setTimeout(() => draw(), DRAW_AFTER_MS);
}

/**
 * Draws what arrived since the last drawing, newest on top — or every row again (`allRows`).
 * @param {{ allRows?: boolean }} [how]
 */
function draw(how) {
  drawScheduled = false;
  drawEvents(store, currentFilter(following.session), how);
  showStatus();
}

/** Draws the whole list again, after a filter changed. */
function redraw() {
  draw({ allRows: true });
}

function showStatus() {
  const line = statusLine({
    phase: follower.phase,
    label: streamLabel(following.source, following.directory, following.session),
    problem: follower.problem,
    total: store.total,
    lastEventId: store.lastEventId,
    lastHeartbeat: store.lastHeartbeat,
    health: health.health,
    healthReason: health.reason,
  });
  drawStatus(follower.phase, health.health, line);
}

/** @param {boolean} paused */
function setPaused(paused) {
  store.setPaused(paused);
  drawPause(store);
  if (!paused) draw();
}

function clearEvents() {
  store.clear();
  clearRows();
  drawPause(store);
  draw();
}

/**
 * The directories opencode knows: its own (GET /path) and its projects' (GET /project),
 * offered in the selector. Best effort.
 */
async function loadDirectories() {
  /** @type {[string, (body: unknown) => unknown[]][]} */
  const sources = [
    ["../path", (body) => [isObject(body) ? body.directory : undefined]],
    [
      "../project",
      (body) =>
        Array.isArray(body) ? body.map((project) => (isObject(project) ? project.worktree : undefined)) : [],
    ],
  ];
  for (const [url, pick] of sources) {
    try {
      const response = await fetch(withAuth(url, AUTH_TOKEN), { headers: { accept: "application/json" } });
      if (!response.ok) continue;
      for (const directory of pick(await response.json())) {
        if (typeof directory === "string") offerDirectory(directory);
      }
    } catch {
      // The list is a convenience: typing a path works without it.
    }
  }
}

// ---------------------------------------------------------------- wiring

ui.sourceForm.addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});
ui.source.addEventListener("change", () => {
  ui.directory.disabled = ui.source.value === "global";
});
ui.typeFilter.addEventListener("input", redraw);
ui.sessionFilter.addEventListener("input", (event) => {
  redraw();
  // Typed (or deleted) a character: the value may be half an id, so wait for a pause. A
  // paste, a pick from the suggestions or the search field's clear button enters it whole.
  const typed = event instanceof InputEvent && /^(insertText|delete)/.test(event.inputType);
  clearTimeout(settleTimer);
  if (typed) settleTimer = setTimeout(() => settleSession(false), SETTLE_AFTER_MS);
  else settleSession(true);
});
ui.sessionFilter.addEventListener("keydown", (event) => {
  if (event.key === "Enter") settleSession(true);
});
ui.showHeartbeats.addEventListener("change", redraw);
ui.pause.addEventListener("click", () => setPaused(!store.paused));
ui.pauseMode.addEventListener("change", () => drawPause(store));
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
  if (row) toggleRow(row);
});
ui.events.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" && event.key !== " ") return;
  if (!(event.target instanceof Element) || !event.target.classList.contains("row")) return;
  event.preventDefault();
  const row = event.target.closest(".ev");
  if (row) toggleRow(row);
});
ui.directory.addEventListener("focus", () => void loadDirectories());
setInterval(() => void health.check(), HEALTH_EVERY_MS);
document.addEventListener("visibilitychange", () => void health.check());

ui.footer.textContent = `Keeps the newest ${MAX_ROWS.toLocaleString("en")} events. Times are when this page received them. Click a row for its JSON. Counts include events held or dropped while paused.`;

const params = new URLSearchParams(location.search);
ui.directory.value = params.get("directory") ?? "";
ui.source.value = params.get("source") === "global" ? "global" : "instance";
ui.sessionFilter.value = params.get("session") ?? "";
connect();
void health.check();
void loadDirectories();
