import type { EventEmitter } from "node:events";
import type { GlobalSource, GlobalSourceState } from "../../src/sources/global.js";

/** Resolves on the first `name` event whose arguments satisfy `predicate`. */
export function nextEvent<T extends unknown[]>(
  emitter: EventEmitter,
  name: string,
  predicate: (...args: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (!predicate(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(name, listener);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(name, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${name}"`));
    }, timeoutMs);
    emitter.on(name, listener);
  });
}

/** Resolves once the source reaches `state` (at once if it is there already). */
export async function sourceState(
  source: GlobalSource,
  state: GlobalSourceState,
  timeoutMs = 10_000,
): Promise<void> {
  if (source.state === state) return;
  await nextEvent<[GlobalSourceState]>(source, "state", (next) => next === state, timeoutMs);
}

/** Resolves once `check` (sync or async) returns true, checking every `everyMs`; rejects after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
