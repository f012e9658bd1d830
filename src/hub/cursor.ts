import { randomBytes } from "node:crypto";

/**
 * The SSE `id:` the shim writes: `<epoch>-<seq>`. The epoch is fresh for every hub, so a
 * cursor handed out by an earlier shim process can never be mistaken for one of ours.
 */
export interface Cursor {
  epoch: string;
  seq: number;
}

const MAX_CURSOR_LENGTH = 64;
const CURSOR_PATTERN = /^([0-9a-z]{1,16})-([0-9]{1,15})$/;

export function newEpoch(): string {
  return randomBytes(5).toString("hex");
}

export function formatCursor(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** Parses a `Last-Event-ID`; anything that is not one of our cursors gives undefined. */
export function parseCursor(value: string | undefined): Cursor | undefined {
  if (value === undefined || value.length > MAX_CURSOR_LENGTH) return undefined;
  const match = CURSOR_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { epoch: match[1] as string, seq };
}
