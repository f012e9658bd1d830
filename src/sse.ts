/**
 * Server-Sent-Events framing, exactly as opencode frames its streams: one `data:` line
 * holding one line of JSON, then a blank line. The shim adds a standard `id:` line after
 * the data when the frame can be resumed from.
 */

export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
  "x-content-type-options": "nosniff",
} as const;

/** Encodes one frame. `json` must be a single line (JSON.stringify output always is). */
export function encodeFrame(json: string, id?: string): Buffer {
  return Buffer.from(id === undefined ? `data: ${json}\n\n` : `data: ${json}\nid: ${id}\n\n`);
}
