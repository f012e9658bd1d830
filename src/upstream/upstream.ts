import { Pool } from "undici";

export interface Credentials {
  username: string;
  password: string;
}

/**
 * The one connection pool to opencode, shared by the proxy, the event source and the
 * instance lookups. No timeouts: prompts and event streams legitimately run for minutes.
 */
export class Upstream {
  readonly origin: string;
  readonly pool: Pool;
  /** The shim's own `Authorization`, for the requests it makes on its own behalf. */
  readonly authorization: string | undefined;

  constructor(url: URL, credentials?: Credentials) {
    this.origin = url.origin;
    this.pool = new Pool(this.origin, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000 });
    this.authorization = credentials
      ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`
      : undefined;
  }

  /** Headers for a request the shim makes for itself. */
  ownHeaders(extra: Record<string, string> = {}): Record<string, string> {
    return this.authorization ? { ...extra, authorization: this.authorization } : extra;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
