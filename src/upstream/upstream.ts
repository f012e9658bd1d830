import { Pool } from "undici";
import type { Credentials } from "../opencode/credentials.js";

/** How long the shim's own short reads (instance lookups, REST snapshots) may wait for an answer. */
const OWN_REQUEST_TIMEOUT_MS = 15_000;

/**
 * The one connection pool to opencode, shared by the proxy, the event source and the
 * instance lookups. No timeouts on the pool: prompts and event streams legitimately run
 * for minutes. The shim's own short reads pass `ownRequestTimeouts` instead.
 */
export class Upstream {
  readonly origin: string;
  readonly pool: Pool;
  /** opencode's credentials, as the shim was given them: its own for upstream. */
  readonly credentials: Credentials | undefined;
  #asksClients: boolean;
  /** The shim's own `Authorization`, for the requests it makes on its own behalf. */
  readonly authorization: string | undefined;
  /** undici's per-request timeouts for the shim's own short reads. */
  readonly ownRequestTimeouts: { headersTimeout: number; bodyTimeout: number };
  #contactLost = false;

  constructor(url: URL, credentials?: Credentials, requestTimeoutMs = OWN_REQUEST_TIMEOUT_MS) {
    this.ownRequestTimeouts = { headersTimeout: requestTimeoutMs, bodyTimeout: requestTimeoutMs };
    this.origin = url.origin;
    this.pool = new Pool(this.origin, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000 });
    this.credentials = credentials;
    this.#asksClients = credentials !== undefined;
    this.authorization = credentials
      ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`
      : undefined;
  }

  /** The credentials opencode asks of clients: its own, unless it was found to ask none (`asksNone`). */
  get guard(): Credentials | undefined {
    return this.#asksClients ? this.credentials : undefined;
  }

  /** opencode lets anyone in (it has no password, though the shim was given one). */
  asksNone(): void {
    this.#asksClients = false;
  }

  /**
   * Whether the shim's last read found upstream unreachable and none has been answered
   * since: opencode may be starting again, and a request that reaches it in its first
   * moments is never answered (measured on 1.14.48: docs/opencode-answers.md).
   */
  get regaining(): boolean {
    return this.#contactLost;
  }

  /** A read of the shim's own could not reach upstream, or was answered. */
  reached(answered: boolean): void {
    this.#contactLost = !answered;
  }

  /** Headers for a request the shim makes for itself. */
  ownHeaders(extra: Record<string, string> = {}): Record<string, string> {
    return this.authorization ? { ...extra, authorization: this.authorization } : extra;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
