import { SAMPLE_QUESTION, toolPrompt } from "../../../fixtures/model-server.js";
import { call, createSession, prompt, withDirectory } from "../../../fixtures/opencode-rest.js";
import type { Random } from "../prng.js";
import type { Gate } from "./gate.js";

/** The kinds of turn a person runs, and how often. */
export const TURN_KINDS = {
  plain: 20,
  long: 15,
  permission: 15,
  question: 10,
  todos: 10,
  subagent: 5,
  /** Two short turns back to back on one session. */
  twice: 20,
} as const;
export type TurnKind = keyof typeof TURN_KINDS;

/** A person's pause before answering a permission or a question. */
export const PERSON_PAUSE_MS = 2_500;
const ASK_TIMEOUT_MS = 60_000;
const TURN_TIMEOUT_MS = 120_000;

/** One turn: a prompt and what opencode did with it, ended when opencode answered the prompt. */
export interface Turn {
  directory: string;
  sessionID: string;
  kind: TurnKind;
  startedAt: number;
  endedAt: number;
}

/** What the people did: sessions, turns, and the permissions and questions they answered. */
export interface Driven {
  sessions: Map<string, { directory: string }>;
  turns: Turn[];
  answered: Array<{ kind: "permission" | "question"; id: string; directory: string; sessionID: string }>;
}

export interface DriverOptions {
  shimUrl: () => string;
  /** opencode itself, where the person's screen sees a question (what the judge checks the clients against). */
  opencodeUrl: string;
  directories: string[];
  gate: Gate;
  running: () => boolean;
}

/**
 * People at work: each worker, in a loop, picks a directory and a free session (or makes
 * a new one) and runs a turn of a random kind through the shim, answering permissions and
 * questions after a pause, until the run is over.
 */
export class Driver {
  readonly driven: Driven = { sessions: new Map(), turns: [], answered: [] };
  private readonly busy = new Set<string>();
  private counter = 0;

  constructor(private readonly options: DriverOptions) {}

  async worker(random: Random): Promise<void> {
    while (this.options.running()) {
      await pause(random.int(0, 1500));
      if (!this.options.running()) return;
      const directory = random.pick(this.options.directories);
      const kind = random.weighted(TURN_KINDS);
      const fresh = random.chance(0.25);
      await this.options.gate.turn(async () => {
        const sessionID = await this.session(directory, fresh, random);
        try {
          await this.run(directory, sessionID, kind);
        } finally {
          this.busy.delete(sessionID);
        }
      });
    }
  }

  /**
   * A session for one turn, taken in the same step as it is chosen: workers the gate lets
   * go at once run on together, and two prompts at once on one session are one turn to
   * opencode (one loop answers the newer question, one `session.idle`), not the two the
   * judge would count (seed 21, right after a restart).
   */
  private async session(directory: string, fresh: boolean, random: Random): Promise<string> {
    const free = [...this.driven.sessions]
      .filter(([id, session]) => session.directory === directory && !this.busy.has(id))
      .map(([id]) => id);
    if (!fresh && free.length > 0) {
      const id = random.pick(free);
      this.busy.add(id);
      return id;
    }
    const { id } = await createSession(this.options.shimUrl(), { directory });
    this.busy.add(id);
    this.driven.sessions.set(id, { directory });
    return id;
  }

  private async run(directory: string, sessionID: string, kind: TurnKind): Promise<void> {
    const n = ++this.counter;
    switch (kind) {
      case "plain":
        return this.turn(directory, sessionID, kind, "say hello");
      case "long":
        return this.turn(directory, sessionID, kind, `[chunks:40] [delay:25] long answer ${n}`);
      case "todos":
        return this.turn(
          directory,
          sessionID,
          kind,
          toolPrompt("todowrite", {
            todos: [
              { content: `Chaos task ${n}`, status: "in_progress", priority: "high" },
              { content: "Judge the run", status: "pending", priority: "medium" },
            ],
          }),
        );
      case "subagent":
        return this.turn(
          directory,
          sessionID,
          kind,
          toolPrompt("task", { description: `Look ${n}`, prompt: "say hello", subagent_type: "general" }),
        );
      case "twice":
        await this.turn(directory, sessionID, kind, "[chunks:3] [delay:0] short");
        return this.turn(directory, sessionID, kind, "[chunks:3] [delay:0] short again");
      case "permission":
        return this.asking(directory, sessionID, kind, `[bash:echo chaos-${n}]`, "permission", {
          reply: "once",
        });
      case "question":
        return this.asking(directory, sessionID, kind, toolPrompt("question", SAMPLE_QUESTION), "question", {
          answers: [["Blue"]],
        });
    }
  }

  private async turn(directory: string, sessionID: string, kind: TurnKind, text: string): Promise<void> {
    const startedAt = performance.now();
    await prompt(this.options.shimUrl(), sessionID, text, {
      directory,
      signal: AbortSignal.timeout(TURN_TIMEOUT_MS),
    });
    this.driven.turns.push({ directory, sessionID, kind, startedAt, endedAt: performance.now() });
  }

  /** A turn whose tool asks: a person sees it, pauses, and answers through the shim. */
  private async asking(
    directory: string,
    sessionID: string,
    kind: TurnKind,
    text: string,
    asks: "permission" | "question",
    answer: unknown,
  ): Promise<void> {
    const turn = this.turn(directory, sessionID, kind, text);
    turn.catch(() => {}); // awaited below, unless answering fails first: that is the failure to report
    const id = await this.asked(directory, sessionID, asks);
    await pause(PERSON_PAUSE_MS);
    await call(this.options.shimUrl(), "POST", `/${asks}/${id}/reply`, answer, { directory });
    this.driven.answered.push({ kind: asks, id, directory, sessionID });
    await turn;
  }

  /** The id of the permission or question the session asks, as opencode shows it. */
  private async asked(
    directory: string,
    sessionID: string,
    asks: "permission" | "question",
  ): Promise<string> {
    const deadline = performance.now() + ASK_TIMEOUT_MS;
    while (performance.now() < deadline) {
      const response = await fetch(`${this.options.opencodeUrl}${withDirectory(`/${asks}`, directory)}`);
      if (response.ok) {
        const requests = (await response.json()) as Array<{ id: string; sessionID: string }>;
        const request = requests.find((candidate) => candidate.sessionID === sessionID);
        if (request) return request.id;
      }
      await pause(200);
    }
    throw new Error(`no ${asks} asked in session ${sessionID} within ${ASK_TIMEOUT_MS / 1000} s`);
  }
}

/** Time passing as part of the scene (a person's pause, a gap between actions), not a wait for something. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
