import type { Envelope, EventPayload } from "../hub/update.js";
import { isObject } from "../json.js";

/** What one `data:` of upstream's `/global/event` turned out to be. */
export type GlobalFrame =
  | { kind: "event"; envelope: Envelope }
  /** `server.connected` / `server.heartbeat` of the global stream itself (no directory). */
  | { kind: "server"; type: string }
  /** A `sync` wrapper: its plain twin, with the same id, carries the event. */
  | { kind: "sync" }
  | { kind: "invalid"; reason: string };

/**
 * Reads one global frame: `{directory, project?, workspace?, payload: {id, type, properties}}`.
 */
export function readGlobalFrame(data: string): GlobalFrame {
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return { kind: "invalid", reason: "not JSON" };
  }
  if (!isObject(frame)) return { kind: "invalid", reason: "not an object" };
  const payload = frame.payload;
  if (!isObject(payload) || typeof payload.type !== "string" || payload.type === "") {
    return { kind: "invalid", reason: "no payload type" };
  }
  if (payload.type === "sync") return { kind: "sync" };
  if (payload.id !== undefined && typeof payload.id !== "string") {
    return { kind: "invalid", reason: "payload id is not a string" };
  }
  const { directory, workspace, project } = frame;
  if (directory === undefined) return { kind: "server", type: payload.type };
  if (typeof directory !== "string" || directory === "") return { kind: "invalid", reason: "bad directory" };
  return {
    kind: "event",
    envelope: {
      directory,
      workspace: typeof workspace === "string" ? workspace : undefined,
      project: typeof project === "string" ? project : undefined,
      payload: payload as EventPayload,
    },
  };
}
