/**
 * How long the shim waits on upstream's stream before it counts what the stream did not
 * carry, and how it judges the stream honest again: the timing of trust, in one place.
 */

/** How long the stream gets to carry what REST shows before the reconciler says it instead (and the log's lines count as owed). */
export const GRACE_MS = 400;

/**
 * How late the stream may carry what REST showed and still count as having told it: a
 * stream later than this is lying.
 */
export const LATE_MS = 3_000;

/**
 * How long after a correction the stream's events about the same thing are late news.
 * Longer than `LATE_MS`, so that a stream found lying is held back before the window ends.
 */
export const STALE_AFTER_CORRECTION_MS = 2 * LATE_MS;

/** How long what the stream carried is remembered, to look corrections up against. */
export const CARRIED_KEPT_MS = 10_000;

/** A lying stream must go this long without a miss, carrying what REST showed, to be trusted again… */
export const HOLD_MS = 10_000;
/** …a while that doubles each time it lies again soon after it was trusted, up to this… */
export const MAX_HOLD_MS = 60_000;
/**
 * …and carry this many of the changes REST showed meanwhile — about a plain turn's messages
 * and parts: a lossy stream's lucky streak is no proof for long, as the hold doubles.
 */
export const CARRIED_TO_TRUST = 6;
/** …among them a whole turn: every message and part of it, and its end, as REST shows them. */
export const TURNS_CARRIED_TO_TRUST = 1;
/** How many misses within `MISS_WINDOW_MS` make the stream a liar (one: a miss is a state not carried for seconds). */
export const MISSES_TO_DISTRUST = 1;
export const MISS_WINDOW_MS = 30_000;
/** Lying again within this long of being trusted is flapping: the next hold is longer. */
export const FLAP_WINDOW_MS = 60_000;
/** Trusted this long without a lie, the hold goes back to its first length. */
export const FORGIVE_AFTER_MS = 600_000;
