/** opencode's session IDs start with `ses` (`ses_` and 26 characters today). */
const SESSION_ID = /^ses[0-9A-Za-z_-]{1,100}$/;
/** More sessions than one stream may follow is a mistake. */
export const MAX_FOLLOWED_SESSIONS = 64;

export type FollowedSessions = { ok: true; ids: string[] | undefined } | { ok: false; problem: string };

/**
 * The sessions `?session=` asks a stream to follow — the parameter repeated, or one value
 * comma-separated — or what is wrong with them. Undefined `ids`: no filter was asked for.
 */
export function followedSessions(value: unknown): FollowedSessions {
  if (value === undefined) return { ok: true, ids: undefined };
  const values = Array.isArray(value) ? value : [value];
  const ids = new Set<string>();
  for (const item of values) {
    if (typeof item !== "string") return { ok: false, problem: "session must be a session ID" };
    for (const piece of item.split(",")) {
      const id = piece.trim();
      if (id === "") continue;
      const problem = sessionIdProblem(id);
      if (problem) return { ok: false, problem };
      ids.add(id);
    }
  }
  if (ids.size === 0) return { ok: false, problem: "session names no session" };
  if (ids.size > MAX_FOLLOWED_SESSIONS)
    return { ok: false, problem: `a stream follows at most ${MAX_FOLLOWED_SESSIONS} sessions` };
  return { ok: true, ids: [...ids] };
}

/** What is wrong with a session ID, if anything. */
export function sessionIdProblem(value: string): string | undefined {
  return SESSION_ID.test(value) ? undefined : `${JSON.stringify(clip(value))} is not a session ID`;
}

function clip(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}
