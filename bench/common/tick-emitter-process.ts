import { fileURLToPath } from "node:url";
import { type Child, launch, waitForLine } from "./process.js";

const PROGRAM = fileURLToPath(new URL("./tick-emitter.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface TickEmitter extends Child {
  url: string;
  /** Ticks emitted so far: the `n` the next one will carry. */
  readonly emitted: number;
  /**
   * Emits `count` ticks at `perSecond` (about one of `sessions` sessions in turn, if given);
   * resolves when the last is written, with how long it took (ms).
   */
  emit(perSecond: number, count: number, sessions?: number): Promise<number>;
}

/** Starts tick-emitter.ts in its own Node process. */
export async function startTickEmitter(): Promise<TickEmitter> {
  const child = launch(process.execPath, ["--import", "tsx", PROGRAM], { cwd: ROOT });
  try {
    const { match } = await waitForLine(child, /listening on (http:\/\/\S+)/);
    const url = match[1] as string;
    let emitted = 0;
    return {
      ...child,
      url,
      get emitted() {
        return emitted;
      },
      async emit(perSecond, count, sessions) {
        const spread = sessions ? `&sessions=${sessions}` : "";
        const response = await fetch(`${url}/emit?rate=${perSecond}&count=${count}${spread}`, {
          method: "POST",
        });
        emitted += count;
        return ((await response.json()) as { elapsedMs: number }).elapsedMs;
      },
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
