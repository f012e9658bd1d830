/** Upstream could not be reached or answered in a way the shim cannot use. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly statusCode = 502,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

/** A one-line description of a network error, for logs and error bodies. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = (error as { cause?: unknown }).cause;
    const causeCode = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
    const detail = typeof code === "string" ? code : typeof causeCode === "string" ? causeCode : undefined;
    return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
  }
  return String(error);
}

/** Whether undici gave up waiting for an answer (a per-request timeout). */
export function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}
