// @ts-check
// The live view's connections to the shim: the event stream it follows with the browser's
// EventSource (reopened, after a growing pause, when the browser gives up on it, and asked
// again with fetch to say why), and the shim's health (GET /shim/health).

import { explainRefusal, explainUnreachable, OPENED_THEN_FAILED, readHealth, withResume } from "./format.js";

/** @import { Health, Phase } from "./format.js" */

/** How long a stream the browser gave up on waits before it is opened again, at most. */
const MAX_RETRY_MS = 30_000;
/** How long a health check may take; one that never ends would stop every later one. */
const HEALTH_TIMEOUT_MS = 10_000;

/**
 * How long to wait before opening a stream again after `failures` refusals in a row:
 * 1 s, doubling, at most MAX_RETRY_MS.
 * @param {number} failures
 */
export function retryDelay(failures) {
  return Math.min(MAX_RETRY_MS, 1000 * 2 ** Math.min(failures, 5));
}

/**
 * Asks the same URL with fetch, to say why EventSource gave up on it.
 * @param {string} url
 * @returns {Promise<string>}
 */
export async function diagnose(url) {
  const controller = new AbortController();
  try {
    const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
    const type = response.headers.get("content-type") ?? "";
    if (response.ok && type.startsWith("text/event-stream")) {
      controller.abort();
      return OPENED_THEN_FAILED;
    }
    const body = response.status === 401 ? "" : await response.text();
    return explainRefusal(response.status, type, body);
  } catch (error) {
    return explainUnreachable(error);
  }
}

/**
 * @typedef {object} FollowerHooks
 * @property {(message: MessageEvent<string>) => void} onMessage Each event received.
 * @property {(phase: Phase) => void} onChange The phase or the problem changed.
 */

/**
 * Follows one event stream at a time. While the browser reconnects by itself (sending
 * Last-Event-ID, so nothing is missed) the phase is `reconnecting`; when it gives up (an
 * HTTP error, or not an event stream) the phase is `failed`, `problem` says why and when
 * the stream is opened again. A stream it opens again, or in place of another, resumes
 * after the last event received (`?lastEventID=`), as the browser would.
 */
export class StreamFollower {
  /** @type {Phase} */
  phase = "connecting";
  /** What went wrong, and when the next try is; "" when nothing did. */
  problem = "";
  /** Streams the browser gave up on in a row (for the retry delay). */
  failures = 0;
  /** The SSE id of the last event received; "" before any. */
  lastEventId = "";
  /** @type {EventSource | null} */
  #stream = null;
  #url = "";
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer = undefined;
  /** @type {FollowerHooks} */
  #hooks;

  /** @param {FollowerHooks} hooks */
  constructor(hooks) {
    this.#hooks = hooks;
  }

  /**
   * Follows `url` from now on: afresh, or after the event `resumeFrom`.
   * @param {string} url
   * @param {string} [resumeFrom] an SSE id the previous stream gave
   */
  follow(url, resumeFrom = "") {
    this.failures = 0;
    this.lastEventId = resumeFrom;
    this.#open(url);
  }

  /** Closes the stream and cancels a planned retry. */
  stop() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#stream?.close();
    this.#stream = null;
  }

  /** @param {string} url */
  #open(url) {
    this.stop();
    const stream = new EventSource(withResume(url, this.lastEventId));
    this.#stream = stream;
    this.#url = url;
    this.problem = "";
    this.#setPhase("connecting");
    stream.onopen = () => {
      if (this.#stream !== stream) return;
      this.failures = 0;
      this.problem = "";
      this.#setPhase("connected");
    };
    stream.onmessage = (message) => {
      if (this.#stream !== stream) return;
      if (message.lastEventId) this.lastEventId = message.lastEventId;
      this.#hooks.onMessage(message);
    };
    stream.onerror = () => {
      if (this.#stream !== stream) return;
      if (stream.readyState === EventSource.CONNECTING) {
        this.#setPhase("reconnecting");
        return;
      }
      this.#gaveUp(stream, url);
    };
  }

  /**
   * The browser gave up on `stream`: open it again later, and find out why meanwhile.
   * @param {EventSource} stream
   * @param {string} url
   */
  #gaveUp(stream, url) {
    stream.close();
    this.#stream = null;
    const delay = retryDelay(this.failures);
    this.failures++;
    const retrying = `retrying in ${delay / 1000} s`;
    this.problem = retrying;
    this.#setPhase("failed");
    this.#retryTimer = setTimeout(() => this.#open(url), delay);
    void diagnose(stream.url).then((why) => {
      if (this.#stream === null && this.#url === url) {
        this.problem = `${why}; ${retrying}`;
        this.#hooks.onChange(this.phase);
      }
    });
  }

  /** @param {Phase} phase */
  #setPhase(phase) {
    this.phase = phase;
    this.#hooks.onChange(phase);
  }
}

/**
 * Asks the shim's health, one request at a time, and not while the page is hidden. An
 * answer that is not the shim's JSON (a 401 from a password-protected opencode, a proxy's
 * error page) or no answer leaves the health `unknown`.
 */
export class HealthCheck {
  /** @type {Health} */
  health = "unknown";
  /** Why the shim is degraded or unavailable; "" otherwise. */
  reason = "";
  #asking = false;
  #url;
  #onAnswer;

  /**
   * @param {string} url GET /shim/health, relative to the page.
   * @param {() => void} onAnswer Called after each answer (or its absence).
   */
  constructor(url, onAnswer) {
    this.#url = url;
    this.#onAnswer = onAnswer;
  }

  async check() {
    if (this.#asking || document.hidden) return;
    this.#asking = true;
    let answer = readHealth(undefined);
    try {
      const response = await fetch(this.#url, {
        cache: "no-store",
        signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
      });
      answer = readHealth(await response.json());
    } catch {
      // Unreachable, or not JSON: unknown.
    } finally {
      this.#asking = false;
    }
    this.health = answer.health;
    this.reason = answer.reason;
    this.#onAnswer();
  }
}
