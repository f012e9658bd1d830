import { sleep } from "./clock.js";

/**
 * Emits events n = 0 … count−1 at `perSecond`, each as soon as it is due: timers fire
 * about every millisecond, and `emit(first, end)` gets every event due by then (usually
 * one or a few; more after a late timer, so the overall rate holds). Resolves with the
 * milliseconds it took.
 */
export async function pace(
  perSecond: number,
  count: number,
  emit: (first: number, end: number) => void,
): Promise<number> {
  const started = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) * perSecond) / 1000) + 1);
    if (due > sent) emit(sent, due);
    sent = due;
    if (sent < count) await sleep(1);
  }
  return performance.now() - started;
}
