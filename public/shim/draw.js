// @ts-check
// The live view's page: its elements, and how the events, the counts per type, the filter
// suggestions, the status line and the pause note are drawn in it. Each drawing touches
// only what changed since the last: new rows are put on top, a count changes its number
// in place, a chip or a suggestion is made for a new type or session only.

import { clock, kindOf, matches, pauseNote } from "./format.js";
import { MAX_HELD } from "./store.js";

/** @import { EventRecord, Filter, Health, PauseMode, Phase } from "./format.js" */
/** @import { EventStore } from "./store.js" */

/**
 * The page's element `#id`, which must be a `kind`.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T }} kind
 * @returns {T}
 */
function $(id, kind) {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`the page has no #${id} (a ${kind.name})`);
  return element;
}

/** The page's elements. */
export const ui = {
  status: $("status", HTMLElement),
  statusText: $("status-text", HTMLElement),
  sourceForm: $("source-form", HTMLFormElement),
  source: $("source", HTMLSelectElement),
  directory: $("directory", HTMLInputElement),
  directories: $("directories", HTMLDataListElement),
  typeFilter: $("type-filter", HTMLInputElement),
  types: $("types", HTMLDataListElement),
  sessionFilter: $("session-filter", HTMLInputElement),
  sessions: $("sessions", HTMLDataListElement),
  showHeartbeats: $("show-heartbeats", HTMLInputElement),
  pauseMode: $("pause-mode", HTMLSelectElement),
  pause: $("pause", HTMLButtonElement),
  clear: $("clear", HTMLButtonElement),
  pauseNote: $("pause-note", HTMLElement),
  counts: $("counts", HTMLElement),
  events: $("events", HTMLElement),
  empty: $("empty", HTMLElement),
  footer: $("footer", HTMLElement),
};

/**
 * What the filter inputs ask the list to show. The session filter hides nothing while it
 * names the session the stream follows (`followed`): the shim then sends only that
 * session's events and its subagents', whose rows must show too.
 * @param {string} followed "" when the stream follows every session
 * @returns {Filter}
 */
export function currentFilter(followed) {
  const session = ui.sessionFilter.value;
  return {
    type: ui.typeFilter.value,
    session: followed && session.trim() === followed ? "" : session,
    heartbeats: ui.showHeartbeats.checked,
  };
}

/**
 * The pause mode the page's selector names.
 * @returns {PauseMode}
 */
export function currentPauseMode() {
  return ui.pauseMode.value === "drop" ? "drop" : "hold";
}

// ---------------------------------------------------------------- rows

/** @type {WeakMap<EventRecord, HTMLElement>} event record → its row, once made */
const rowOfRecord = new WeakMap();
/** @type {WeakMap<Element, EventRecord>} row → its event record */
const recordOfRow = new WeakMap();

/**
 * @param {string} className
 * @param {string} text
 * @param {string} [title]
 */
function cell(className, text, title) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

/**
 * The row of `record`, made the first time it is asked for.
 * @param {EventRecord} record
 * @param {ReadonlyMap<string, string>} sessions session id → title
 */
function rowOf(record, sessions) {
  const made = rowOfRecord.get(record);
  if (made) return made;
  const row = document.createElement("div");
  row.className = `ev kind-${kindOf(record.type)}`;
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
    cell("session", record.session ?? "", record.session ? (sessions.get(record.session) ?? "") : ""),
    cell("summary", record.summary),
  );
  row.append(line);
  rowOfRecord.set(record, row);
  recordOfRow.set(row, record);
  return row;
}

/**
 * Shows the event's full JSON under its row, or hides it.
 * @param {Element} row an `.ev`
 */
export function toggleRow(row) {
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

/**
 * Puts the rows of the events kept since the last drawing on top (newest first), and takes
 * away those of the events forgotten.
 * @param {EventStore} store
 * @param {Filter} filter
 */
function drawNewRows(store, filter) {
  const { fresh, forgotten } = store.takeChanges();
  const gone = new Set(forgotten);
  for (const record of forgotten) rowOfRecord.get(record)?.remove();
  const fragment = document.createDocumentFragment();
  for (let i = fresh.length - 1; i >= 0; i--) {
    const record = fresh[i];
    if (record && !gone.has(record) && matches(record, filter))
      fragment.append(rowOf(record, store.sessions));
  }
  if (fragment.firstChild) ui.events.prepend(fragment);
}

/**
 * Draws every kept event's row again, after a filter changed.
 * @param {EventStore} store
 * @param {Filter} filter
 */
function drawAllRows(store, filter) {
  store.takeChanges();
  const fragment = document.createDocumentFragment();
  for (let i = store.records.length - 1; i >= 0; i--) {
    const record = store.records[i];
    if (record && matches(record, filter)) fragment.append(rowOf(record, store.sessions));
  }
  ui.events.replaceChildren(fragment);
}

// ---------------------------------------------------------------- chips and suggestions

/**
 * Makes `parent`'s children the nodes of `keys`, in that order, touching only what differs:
 * a key's node is made once (`make`), moved only when out of place, and removed with its
 * key; `update` brings each one up to date (and should write only what changed).
 * @template {Element} T
 * @param {Element} parent holding only these nodes
 * @param {Map<string, T>} nodes key → its node, kept between calls
 * @param {readonly string[]} keys
 * @param {(key: string) => T} make
 * @param {(node: T, key: string) => void} update
 */
function syncChildren(parent, nodes, keys, make, update) {
  const wanted = new Set(keys);
  for (const [key, node] of nodes) {
    if (wanted.has(key)) continue;
    node.remove();
    nodes.delete(key);
  }
  let next = parent.firstChild;
  for (const key of keys) {
    let node = nodes.get(key);
    if (!node) {
      node = make(key);
      nodes.set(key, node);
    }
    update(node, key);
    if (node === next) next = node.nextSibling;
    else parent.insertBefore(node, next);
  }
}

/**
 * Sets `node`'s text, if it is not that already.
 * @param {Node} node
 * @param {string} text
 */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** @type {Map<string, HTMLButtonElement>} type → its count chip */
const chips = new Map();
/** The counts' placeholder, shown while there are none. */
const noCounts = ui.counts.querySelector(".none") ?? cell("none", "none yet");

/** @param {string} type */
function makeChip(type) {
  const chip = document.createElement("button");
  chip.type = "button";
  chip.className = `chip kind-${kindOf(type)}`;
  chip.dataset.type = type;
  chip.append(cell("t", type), cell("n", ""));
  return chip;
}

/**
 * The count per type, a chip each (the one the type filter names selected).
 * @param {EventStore} store
 */
function drawCounts(store) {
  const types = store.types();
  if (types.length === 0) {
    syncChildren(ui.counts, chips, [], makeChip, () => {});
    if (noCounts.parentNode !== ui.counts) ui.counts.replaceChildren(noCounts);
    return;
  }
  noCounts.remove();
  const selected = ui.typeFilter.value.trim();
  syncChildren(ui.counts, chips, types, makeChip, (chip, type) => {
    const isSelected = type === selected;
    if (chip.classList.contains("selected") !== isSelected) chip.classList.toggle("selected", isSelected);
    const title = isSelected ? "show every type" : `show only ${type}`;
    if (chip.title !== title) chip.title = title;
    if (chip.lastChild) setText(chip.lastChild, String(store.counts.get(type) ?? 0));
  });
}

/** @type {Map<string, HTMLOptionElement>} */
const typeOptions = new Map();
/** @type {Map<string, HTMLOptionElement>} */
const sessionOptions = new Map();
let typesDrawn = -1;
let sessionsDrawn = -1;

/** @param {string} value */
function makeOption(value) {
  return new Option(value, value);
}

/**
 * The filters' suggestions: the types counted, and the sessions seen (the latest first).
 * @param {EventStore} store
 */
function drawSuggestions(store) {
  if (typesDrawn !== store.typesVersion) {
    typesDrawn = store.typesVersion;
    syncChildren(ui.types, typeOptions, store.types(), makeOption, () => {});
  }
  if (sessionsDrawn !== store.sessionsVersion) {
    sessionsDrawn = store.sessionsVersion;
    const ids = [...store.sessions.keys()].reverse();
    syncChildren(ui.sessions, sessionOptions, ids, makeOption, (option, id) => {
      const title = store.sessions.get(id);
      setText(option, title ? `${id} — ${title}` : id);
    });
  }
}

// ---------------------------------------------------------------- the page as a whole

/**
 * Draws what changed since the last drawing — or, after a filter changed (`allRows`),
 * every row again — showing the rows `filter` lets through.
 * @param {EventStore} store
 * @param {Filter} filter
 * @param {{ allRows?: boolean }} [how]
 */
export function drawEvents(store, filter, { allRows = false } = {}) {
  if (allRows) drawAllRows(store, filter);
  else drawNewRows(store, filter);
  drawCounts(store);
  drawSuggestions(store);
  ui.empty.hidden = ui.events.firstChild !== null;
}

/** Takes every row away (the store was cleared). */
export function clearRows() {
  ui.events.replaceChildren();
}

/**
 * The status line, and its state and the shim's health as `data-` attributes.
 * @param {Phase} phase
 * @param {Health} health
 * @param {string} line
 */
export function drawStatus(phase, health, line) {
  ui.status.dataset.state = phase;
  ui.status.dataset.health = health;
  setText(ui.statusText, line);
}

/**
 * The pause button, and the note saying what happens (or happened) to events while paused.
 * @param {EventStore} store
 */
export function drawPause(store) {
  const paused = store.paused;
  setText(ui.pause, paused ? "Resume" : "Pause");
  ui.pause.setAttribute("aria-pressed", String(paused));
  document.body.classList.toggle("is-paused", paused);
  const note = ui.pauseNote;
  note.dataset.held = String(store.held.length);
  note.dataset.dropped = String(store.dropped);
  const text = pauseNote({
    paused,
    mode: currentPauseMode(),
    held: store.held.length,
    heldOverflow: store.heldOverflow,
    dropped: store.dropped,
    maxHeld: MAX_HELD,
  });
  note.hidden = text === undefined;
  if (text === undefined) return;
  note.className = paused ? "paused" : "";
  setText(note, text);
}

/** @type {Set<string>} */
const offeredDirectories = new Set();

/**
 * Offers a directory in the selector's suggestions (once).
 * @param {string} directory
 */
export function offerDirectory(directory) {
  if (!directory || directory === "/" || offeredDirectories.has(directory)) return;
  offeredDirectories.add(directory);
  const option = document.createElement("option");
  option.value = directory;
  ui.directories.append(option);
}
