import { UpstreamTimeout, UpstreamUnavailable } from "../../errors.js";
import { pathOf } from "../../helpers.js";
import type { MessageWithParts, PendingRequest, SessionInfo, SessionStatus } from "../../opencode/state.js";
import { askUpstream, type UpstreamAnswer } from "../../upstream/ask.js";
import type { Upstream } from "../../upstream/upstream.js";
import type { ReadBudget } from "./read-budget.js";

/**
 * How long one read may wait for its answer. A read takes milliseconds; one opencode never
 * answers (seen on the first read of an instance after opencode restarted) would otherwise
 * hold the instance's reads for the shim's 15 s, and every change meanwhile with them.
 */
export const READ_TIMEOUT_MS = 5_000;
/**
 * How long a read may wait while upstream is being regained (`Upstream.regaining`): opencode
 * never answers a request that reaches it in its first moments, and answers the next at once.
 */
export const REGAIN_READ_TIMEOUT_MS = 500;

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
    private readonly timeoutMs = READ_TIMEOUT_MS,
    private readonly budget?: ReadBudget,
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

  /** The newest `limit` messages, oldest first; undefined when the session is gone. */
  async messages(sessionID: string, limit: number): Promise<MessageWithParts[] | undefined> {
    return this.get<MessageWithParts[]>(
      `/session/${encodeURIComponent(sessionID)}/message?limit=${limit}&${this.query}`,
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
    const answer = await this.ask(path);
    if (answer.statusCode === 404) return undefined;
    if (answer.statusCode !== 200) {
      throw new UpstreamUnavailable(`upstream GET ${pathOf(path)} answered ${answer.statusCode}`);
    }
    return answer.json<T>();
  }

  /** One request, within the read budget, its answer's time told to it. */
  private async ask(path: string): Promise<UpstreamAnswer> {
    await this.budget?.take();
    const started = performance.now();
    try {
      return await this.askNow(path);
    } finally {
      this.budget?.answered(performance.now() - started);
    }
  }

  /** One request; while upstream is being regained, a short wait, and once more if that went unanswered. */
  private async askNow(path: string): Promise<UpstreamAnswer> {
    this.onRequest();
    if (!this.upstream.regaining) return askUpstream(this.upstream, path, { timeoutMs: this.timeoutMs });
    try {
      return await askUpstream(this.upstream, path, {
        timeoutMs: Math.min(REGAIN_READ_TIMEOUT_MS, this.timeoutMs),
      });
    } catch (error) {
      if (!(error instanceof UpstreamTimeout)) throw error;
      this.onRequest();
      return askUpstream(this.upstream, path, { timeoutMs: this.timeoutMs });
    }
  }
}
