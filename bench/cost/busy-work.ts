import { abort, call, promptAsync, sessionStatus } from "../../fixtures/opencode-rest.js";
import { sleep } from "../common/clock.js";

/**
 * What the busy sessions do while they are measured:
 * - `silent`: a long bash call that prints nothing (nothing changes, nothing to tell);
 * - `streaming`: a long streamed reply, a chunk every 25 ms.
 */
export type BusyScene = "silent" | "streaming";

const STREAM_CHUNK_MS = 25;

/** A prompt whose turn outlasts `seconds` (it is aborted when the window is over). */
function promptFor(scene: BusyScene, seconds: number): string {
  if (scene === "silent") return `[bash:sleep ${Math.ceil(seconds)}]`;
  const chunks = Math.ceil((seconds * 1000) / STREAM_CHUNK_MS);
  return `[chunks:${chunks}] [delay:${STREAM_CHUNK_MS}] stream on`;
}

export async function until(test: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

interface Part {
  type: string;
  tool?: string;
  state?: { status?: string };
}

/** Whether the session's newest message is running its bash call. */
export async function toolRunning(base: string, directory: string, id: string): Promise<boolean> {
  const messages = await call<Array<{ parts: Part[] }>>(
    base,
    "GET",
    `/session/${id}/message?limit=1`,
    undefined,
    { directory },
  );
  return (
    messages.at(-1)?.parts.some((part) => part.type === "tool" && part.state?.status === "running") ?? false
  );
}

export interface BusyWork {
  /** Whether every session is busy still (checked after a window: a turn that ended early spoils it). */
  allBusy(): Promise<boolean>;
  /** Aborts every turn and waits until the instance is idle. */
  end(): Promise<void>;
}

/**
 * Starts a turn of `scene` in every session, at once, lasting at least `seconds`; resolves
 * once every session is busy with it (for `silent`, once every bash call runs).
 */
export async function startBusyWork(
  base: string,
  directory: string,
  sessions: string[],
  scene: BusyScene,
  seconds: number,
): Promise<BusyWork> {
  const text = promptFor(scene, seconds);
  await Promise.all(sessions.map((id) => promptAsync(base, id, text, { directory })));
  const busyNow = async () => {
    const status = await sessionStatus(base, { directory });
    return sessions.every((id) => id in status);
  };
  await until(busyNow, 30_000, `${sessions.length} sessions busy`);
  if (scene === "silent") {
    for (const id of sessions)
      await until(() => toolRunning(base, directory, id), 30_000, `the bash call of ${id} running`);
  }
  return {
    allBusy: busyNow,
    async end() {
      await Promise.all(sessions.map((id) => abort(base, id, { directory })));
      await until(
        async () => Object.keys(await sessionStatus(base, { directory })).length === 0,
        30_000,
        "the instance idle after abort",
      );
    },
  };
}
