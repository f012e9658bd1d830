import { randomBytes } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LENGTH = 14;

let lastTimestamp = 0;
let counter = 0;

/**
 * An id in opencode's own style (`evt_` + 12 hex digits of time and counter + 14 random
 * base62 characters), ascending within this process, so synthesized events look like
 * the ones upstream sends.
 */
export function eventId(): string {
  const now = Date.now();
  if (now !== lastTimestamp) {
    lastTimestamp = now;
    counter = 0;
  }
  counter++;
  const value = BigInt(now) * 0x1000n + BigInt(counter);
  const time = (value & 0xffffffffffffn).toString(16).padStart(12, "0");
  const bytes = randomBytes(RANDOM_LENGTH);
  let random = "";
  for (const byte of bytes) random += BASE62[byte % 62];
  return `evt_${time}${random}`;
}
