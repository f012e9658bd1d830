/** Who follows instances: each instance's `/event` clients, and the clients of the shim's own `/global/event`. */
export interface Audience {
  /** Whether `directory` has `/event` clients of its own. */
  hasClients(directory: string): boolean;
  /** Clients of the `/global/event` the shim serves itself (not those passed on to upstream). */
  readonly globalSubscriberCount: number;
}

/** What the rule looks at of an instance besides its audience. */
export interface InstanceActivity {
  /** A session of it is busy (or retrying). */
  busy: boolean;
  /** When clients were last told a change of it (ms, this machine's clock; 0 when never). */
  changedAt: number;
}

/**
 * The last moment (ms) an instance was followed, `previous` being the last one known. The
 * rule: an instance is followed while it has `/event` clients of its own. A `/global/event`
 * client of the shim sees every instance the shim reads, but wants the ones at work, not
 * every instance ever named: while one is connected, an instance is also followed while a
 * session of it is busy, and counts as followed when it last changed. A request naming it
 * through the shim (`track`) counts too. The reconciler lets an instance go once it has not
 * been followed for its `releaseAfterMs`, and past its bound lets the one followed longest
 * ago go first.
 */
export function lastFollowed(
  audience: Audience,
  directory: string,
  activity: InstanceActivity,
  previous: number,
  now: number,
): number {
  if (audience.hasClients(directory)) return now;
  if (audience.globalSubscriberCount === 0) return previous;
  return activity.busy ? now : Math.max(previous, activity.changedAt);
}
