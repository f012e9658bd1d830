import { createHash } from "node:crypto";
import { isObject, type Part, storedPart } from "../hub/state.js";
import type { EventPayload } from "../hub/update.js";

/** JSON with object keys sorted, so that equal values are equal strings whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function digest(text: string): string {
  return createHash("sha1").update(text).digest("base64");
}

/**
 * What a state event says, as a short key: the thing it is about and the state it gives
 * it. Upstream's own event and the reconciler's correction for the same state have the
 * same key (opencode's REST and its events carry the same objects), so a correction whose
 * key the stream carried is one the stream did tell. Undefined for an event that gives no
 * state REST could show (a text delta, a made-up reply's wording).
 */
export function stateKey(payload: EventPayload): string | undefined {
  const p = isObject(payload.properties) ? payload.properties : {};
  const info = isObject(p.info) ? p.info : {};
  switch (payload.type) {
    case "session.created":
    case "session.updated":
      return `session ${str(info.id)} ${digest(canonicalJson(info))}`;
    case "session.deleted":
      return `session ${str(info.id) || str(p.sessionID)} deleted`;
    case "session.status":
      return `status ${str(p.sessionID)} ${canonicalJson(p.status)}`;
    case "session.idle":
      return `status ${str(p.sessionID)} ${canonicalJson({ type: "idle" })}`;
    case "message.updated":
      return `message ${str(info.id)} ${digest(canonicalJson(info))}`;
    case "message.removed":
      return `message ${str(p.messageID)} removed`;
    case "message.part.updated": {
      const part: Record<string, unknown> = isObject(p.part) ? storedPart(p.part as unknown as Part) : {};
      return `part ${str(part.id)} ${digest(canonicalJson(part))}`;
    }
    case "message.part.removed":
      return `part ${str(p.partID)} removed`;
    case "permission.asked":
    case "question.asked":
      return `${payload.type} ${str(p.id)}`;
    case "permission.replied":
      return `permission settled ${str(p.requestID) || str(p.permissionID)}`;
    case "question.replied":
    case "question.rejected":
      return `question settled ${str(p.requestID)}`;
    case "todo.updated":
      return `todos ${str(p.sessionID)} ${digest(canonicalJson(p.todos))}`;
    case "session.diff":
      return `diff ${str(p.sessionID)} ${digest(canonicalJson(p.diff))}`;
    default:
      return undefined;
  }
}
