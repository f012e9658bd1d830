import type { MessageWithParts, PendingRequest, SessionInfo, SessionStatus } from "../../hub/state.js";
import { describeError, isTimeout, UpstreamError } from "../../upstream/errors.js";
import type { Upstream } from "../../upstream/upstream.js";

/** Sessions beyond upstream's default page of 100 must be listed too, or they would look deleted. */
const ALL_SESSIONS = 1_000_000;

/**
 * Upstream's REST reads for one instance, with the shim's own credentials. Each call
 * is one request, told to `onRequest`.
 */
export class RestReader {
  private readonly query: string;

  constructor(
    private readonly upstream: Upstream,
    readonly directory: string,
    private readonly onRequest: () => void = () => {},
  ) {
    this.query = `directory=${encodeURIComponent(directory)}`;
  }

  /** Every session of the instance, or (with `updatedSince`) those updated at or after it. */
  async sessions(updatedSince?: number): Promise<SessionInfo[]> {
    const filter =
      updatedSince === undefined ? `limit=${ALL_SESSIONS}` : `start=${updatedSince}&limit=${ALL_SESSIONS}`;
    const sessions = await this.get<SessionInfo[]>(`/session?${filter}&${this.query}`);
    // Upstream lists a project's sessions; an instance's events are its own directory's.
    return (sessions ?? []).filter(
      (session) => session.directory === undefined || session.directory === this.directory,
    );
  }

  async statuses(): Promise<Record<string, SessionStatus>> {
    return (await this.get<Record<string, SessionStatus>>(`/session/status?${this.query}`)) ?? {};
  }

  /** The newest `limit` messages (all when undefined), oldest first; undefined when the session is gone. */
  async messages(sessionID: string, limit?: number): Promise<MessageWithParts[] | undefined> {
    const page = limit === undefined ? "" : `limit=${limit}&`;
    return this.get<MessageWithParts[]>(
      `/session/${encodeURIComponent(sessionID)}/message?${page}${this.query}`,
    );
  }

  async permissions(): Promise<PendingRequest[]> {
    return (await this.get<PendingRequest[]>(`/permission?${this.query}`)) ?? [];
  }

  async questions(): Promise<PendingRequest[]> {
    return (await this.get<PendingRequest[]>(`/question?${this.query}`)) ?? [];
  }

  async todos(sessionID: string): Promise<unknown[] | undefined> {
    return this.get<unknown[]>(`/session/${encodeURIComponent(sessionID)}/todo?${this.query}`);
  }

  async diff(sessionID: string): Promise<unknown[] | undefined> {
    return this.get<unknown[]>(`/session/${encodeURIComponent(sessionID)}/diff?${this.query}`);
  }

  async project(): Promise<string | undefined> {
    const project = await this.get<{ id?: unknown }>(`/project/current?${this.query}`);
    return typeof project?.id === "string" ? project.id : undefined;
  }

  /** JSON of a 200; undefined for a 404 (the thing is gone); anything else throws. */
  private async get<T>(path: string): Promise<T | undefined> {
    this.onRequest();
    let response: Awaited<ReturnType<Upstream["pool"]["request"]>>;
    try {
      response = await this.upstream.pool.request({
        method: "GET",
        path,
        headers: this.upstream.ownHeaders({ accept: "application/json" }),
        ...this.upstream.ownRequestTimeouts,
      });
    } catch (error) {
      throw new UpstreamError(`GET ${path.split("?")[0]} failed: ${describeError(error)}`);
    }
    if (response.statusCode === 404) {
      await response.body.dump();
      return undefined;
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new UpstreamError(`GET ${path.split("?")[0]} answered ${response.statusCode}`);
    }
    try {
      return (await response.body.json()) as T;
    } catch (error) {
      if (isTimeout(error)) throw new UpstreamError(`GET ${path.split("?")[0]} ${describeError(error)}`, 504);
      throw new UpstreamError(`GET ${path.split("?")[0]} did not answer JSON`);
    }
  }
}
