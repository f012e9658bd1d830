import { eventId } from "../ids.js";
import { encodeFrame } from "../sse.js";
import type { Envelope, EventPayload } from "./update.js";

/** The event that ends its instance's `/event` streams, as upstream ends them. */
export const INSTANCE_DISPOSED = "server.instance.disposed";

/**
 * The two framings opencode uses: `/event` carries the bare event, `/global/event` wraps
 * it with the instance it belongs to (the stream's own server.* events come bare-wrapped,
 * `{"payload": …}`).
 */

export function instanceFrame(payload: EventPayload, cursor?: string): Buffer {
  return encodeFrame(JSON.stringify(payload), cursor);
}

export function globalFrame(envelope: Envelope, cursor?: string): Buffer {
  const wrapped: Record<string, unknown> = { directory: envelope.directory };
  if (envelope.project !== undefined) wrapped.project = envelope.project;
  if (envelope.workspace !== undefined) wrapped.workspace = envelope.workspace;
  wrapped.payload = envelope.payload;
  return encodeFrame(JSON.stringify(wrapped), cursor);
}

/** `server.connected` / `server.heartbeat`, framed for one kind of stream. */
export function serverFrame(type: "server.connected" | "server.heartbeat", global: boolean): Buffer {
  const payload = { id: eventId(), type, properties: {} };
  return encodeFrame(JSON.stringify(global ? { payload } : payload));
}
