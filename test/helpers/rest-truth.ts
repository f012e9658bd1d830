import type { ReceivedEvent } from "../../fixtures/sse-client.js";

interface Message {
  info: { id: string; time: { completed?: number } };
  parts: Array<{ id: string; type: string; time?: { end?: number }; state?: { status?: string } }>;
}

/** JSON with sorted keys: equal lists are equal strings however their objects were written. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(object[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A part in the state it ends in: text written whole, a tool call done. */
function finished(part: Message["parts"][number]): boolean {
  if (part.type === "text" || part.type === "reasoning") return part.time?.end !== undefined;
  if (part.type === "tool") return part.state?.status === "completed" || part.state?.status === "error";
  return false;
}

/**
 * The changes a client of `/event` must learn of, as keys both opencode's REST state and
 * the events can be read into: a message created and completed, a part finished, a
 * session going idle (counted), a permission or question asked and settled, a todo list.
 */
export function changesIn(events: ReceivedEvent[]): Map<string, number> {
  const first = new Map<string, number>();
  const saw = (key: string, at: number) => {
    if (!first.has(key)) first.set(key, at);
  };
  const idles = new Map<string, number>();
  for (const event of events) {
    const p = (event.json.properties ?? {}) as Record<string, unknown>;
    const info = p.info as Message["info"] | undefined;
    const part = p.part as Message["parts"][number] | undefined;
    switch (event.json.type) {
      case "message.updated":
        if (info) saw(`message ${info.id}`, event.at);
        if (info?.time.completed !== undefined) saw(`completed ${info.id}`, event.at);
        break;
      case "message.part.updated":
        if (part && finished(part)) saw(`part ${part.id} finished`, event.at);
        break;
      case "session.idle": {
        const sessionID = String(p.sessionID);
        const count = (idles.get(sessionID) ?? 0) + 1;
        idles.set(sessionID, count);
        saw(`idle ${sessionID} ${count}`, event.at);
        break;
      }
      case "permission.asked":
      case "question.asked":
        saw(`${event.json.type.split(".")[0]} ${String(p.id)}`, event.at);
        break;
      case "permission.replied":
      case "question.replied":
      case "question.rejected":
        saw(`${event.json.type.split(".")[0]} ${String(p.requestID)} settled`, event.at);
        break;
      case "todo.updated":
        saw(`todos ${String(p.sessionID)} ${canonical(p.todos)}`, event.at);
        break;
    }
  }
  return first;
}

/**
 * opencode's REST state of the sessions a test follows, read directly (not through the
 * shim) every `everyMs`: when each change first showed there, by the keys of `changesIn`.
 */
export class RestTruth {
  readonly firstSeen = new Map<string, number>();
  private readonly sessions = new Set<string>();
  private readonly busy = new Set<string>();
  private readonly idles = new Map<string, number>();
  private readonly pending = new Set<string>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly baseUrl: string,
    private readonly everyMs = 150,
  ) {
    this.loop = this.run();
  }

  follow(sessionID: string): void {
    this.sessions.add(sessionID);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** How long after REST first showed each change a client received it (ms), and what it never received. */
  compare(events: ReceivedEvent[]): { latencies: Map<string, number>; missing: string[] } {
    const received = changesIn(events);
    const latencies = new Map<string, number>();
    const missing: string[] = [];
    for (const [key, at] of this.firstSeen) {
      const got = received.get(key);
      if (got === undefined) missing.push(key);
      else latencies.set(key, got - at);
    }
    return { latencies, missing };
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.look();
      } catch {
        // opencode may be busy or restarting: the next look will tell
      }
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }

  private async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    return (await response.json()) as T;
  }

  private async look(): Promise<void> {
    const now = performance.now();
    const saw = (key: string) => {
      if (!this.firstSeen.has(key)) this.firstSeen.set(key, now);
    };
    const statuses = await this.get<Record<string, unknown>>("/session/status");
    for (const sessionID of this.sessions) {
      if (sessionID in statuses) this.busy.add(sessionID);
      else if (this.busy.delete(sessionID)) {
        const count = (this.idles.get(sessionID) ?? 0) + 1;
        this.idles.set(sessionID, count);
        saw(`idle ${sessionID} ${count}`);
      }
      for (const { info, parts } of await this.get<Message[]>(`/session/${sessionID}/message`)) {
        saw(`message ${info.id}`);
        if (info.time.completed !== undefined) saw(`completed ${info.id}`);
        for (const part of parts) if (finished(part)) saw(`part ${part.id} finished`);
      }
      const todos = await this.get<unknown[]>(`/session/${sessionID}/todo`);
      if (todos.length > 0) saw(`todos ${sessionID} ${canonical(todos)}`);
    }
    for (const kind of ["permission", "question"] as const) {
      const requests = await this.get<Array<{ id: string; sessionID: string }>>(`/${kind}`);
      const ids = new Set<string>();
      for (const request of requests) {
        if (!this.sessions.has(request.sessionID)) continue;
        ids.add(`${kind} ${request.id}`);
        this.pending.add(`${kind} ${request.id}`);
        saw(`${kind} ${request.id}`);
      }
      for (const key of [...this.pending]) {
        if (!key.startsWith(kind) || ids.has(key)) continue;
        this.pending.delete(key);
        saw(`${key} settled`);
      }
    }
  }
}
