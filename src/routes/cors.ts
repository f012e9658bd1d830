/**
 * The origins opencode lets call it from a browser — no Origin (not a browser), any
 * port on localhost or 127.0.0.1 — plus the shim's own `--cors` list. The shim's own
 * routes answer cross-origin requests the same way.
 */
export function allowedOrigin(origin: string | undefined, extra: readonly string[]): boolean {
  if (!origin) return true;
  if (origin.startsWith("http://localhost:") || origin.startsWith("http://127.0.0.1:")) return true;
  return extra.includes(origin);
}
