import { abort, call, createSession, promptAsync, sessionStatus } from "../../fixtures/opencode-rest.js";
import { toolRunning, until } from "../cost/busy-work.js";

/** Long enough to outlast every mode run beside it (each is aborted at the end). */
const SLEEP_SECONDS = 1800;

/** Sessions kept busy beside the modes: what the reconciler reads besides the scene's own. */
export interface BusyAlongside {
  end(): Promise<void>;
}

/**
 * `count` sessions of the instance, each in a bash call that sleeps and prints nothing (the
 * silent spell of issue 22), their permissions answered once as a user would: then the
 * modes run again beside them.
 */
export async function busyAlongside(base: string, directory: string, count: number): Promise<BusyAlongside> {
  const ids = (
    await Promise.all(Array.from({ length: count }, () => createSession(base, { directory })))
  ).map((session) => session.id);
  await Promise.all(ids.map((id) => promptAsync(base, id, `[bash:sleep ${SLEEP_SECONDS}]`, { directory })));
  const answered = new Set<string>();
  await until(
    async () => {
      const pending = await call<Array<{ id: string; sessionID: string }>>(
        base,
        "GET",
        "/permission",
        undefined,
        {
          directory,
        },
      );
      for (const request of pending) {
        if (!ids.includes(request.sessionID) || answered.has(request.id)) continue;
        answered.add(request.id);
        await call(base, "POST", `/permission/${request.id}/reply`, { reply: "once" }, { directory });
      }
      return answered.size >= count;
    },
    60_000,
    `the bash calls of ${count} sessions asked and allowed`,
  );
  for (const id of ids)
    await until(() => toolRunning(base, directory, id), 30_000, `the bash call of ${id} running`);
  return {
    async end() {
      await Promise.all(ids.map((id) => abort(base, id, { directory })));
      await until(
        async () => {
          const busy = await sessionStatus(base, { directory });
          return ids.every((id) => !(id in busy));
        },
        30_000,
        "the busy sessions idle after abort",
      );
    },
  };
}
