const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/;
const SIZE = /^(\d+)\s*(b|kib|mib|gib|kb|mb|gb)?$/i;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** "30", "30s", "500ms", "2m" → milliseconds; a bare number is in `bareUnit`. */
export function parseDuration(text: string, bareUnit: "ms" | "s"): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * (DURATION_MS[match[2] ?? bareUnit] as number);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** "4096", "512KiB", "8MiB" → bytes. */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * (SIZE_BYTES[(match[2] ?? "b").toLowerCase()] as number);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
