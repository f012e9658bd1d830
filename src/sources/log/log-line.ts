/** What one opencode log line says about upstream state: something changed, maybe in one session. */
export interface LogHint {
  /** The bus event type of a `service=bus type=… publishing` line. */
  busType?: string;
  /** The first session id on the line (`id=ses_…`, `session.id=ses_…`). */
  sessionID?: string;
}

/**
 * Values are not quoted (`title=New session - 2026-…`, `pattern=echo hi`), so fields are
 * found by key at a token start rather than by splitting the line.
 */
const SERVICE = /(?:^|\s)service=(\S+)/;
const BUS_TYPE = /(?:^|\s)type=(\S+)/;
// An id is `ses_` + 12 hex + 14 base62; a shorter floor keeps other id shapes, a key or
// space before it keeps paths like `/tmp/ses_x` out.
const SESSION_ID = /(?:^|[\s=])(ses_[0-9A-Za-z]{12,})(?![0-9A-Za-z_])/;
/** Published on every stream, about no state. */
const NOISE_TYPES = new Set(["server.heartbeat", "server.connected"]);

/**
 * Reads one line of opencode's log, e.g.
 * `INFO  2026-11-24T03:15:31 +1ms service=bus type=session.idle publishing`, and returns a
 * hint when it signals that something changed upstream: a bus publish (which names its
 * type, never a session) or any line naming a session. Anything else is undefined.
 */
export function parseLogLine(line: string): LogHint | undefined {
  const text = line.trimEnd();
  const service = SERVICE.exec(text)?.[1];
  const sessionID = SESSION_ID.exec(text)?.[1];
  let busType: string | undefined;
  if (service === "bus" && text.endsWith(" publishing")) {
    busType = BUS_TYPE.exec(text)?.[1];
    if (busType && NOISE_TYPES.has(busType)) return undefined;
  }
  if (!busType && !sessionID) return undefined;
  const hint: LogHint = {};
  if (busType) hint.busType = busType;
  if (sessionID) hint.sessionID = sessionID;
  return hint;
}
