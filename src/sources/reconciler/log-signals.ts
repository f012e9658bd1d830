import { eventKind } from "../../opencode/events.js";
import type { LogHint } from "../log/log-line.js";
import type { Signal } from "./read-pace.js";

/** What each kind of bus event changed, as the reconciler reads it. */
const SIGNALS_BY_PREFIX: ReadonlyArray<readonly [string, readonly Signal[]]> = [
  ["session.status", ["statuses"]],
  ["session.idle", ["statuses"]],
  ["session.created", ["list"]],
  ["session.updated", ["list"]],
  ["session.deleted", ["all-sessions"]],
  ["session.diff", []],
  ["message.", ["messages"]],
  ["permission.", ["requests"]],
  ["question.", ["requests"]],
];

/**
 * What a line of opencode's log says to read: for a bus publish, what its event changed
 * (nothing for a per-token event: REST holds a part's text only once it is done); for a
 * line naming a session, that session's messages and the statuses; `undefined`: nothing.
 */
export function signalsOf(hint: LogHint): readonly Signal[] | undefined {
  const type = hint.busType;
  if (type === undefined) return hint.sessionID ? ["statuses", "messages"] : undefined;
  if (eventKind(type)?.perToken) return undefined;
  const signals = SIGNALS_BY_PREFIX.find(([prefix]) => type.startsWith(prefix))?.[1];
  if (signals === undefined) return ["statuses", "messages"];
  return signals.length > 0 ? signals : undefined;
}
