import { withDirectory } from "../../fixtures/opencode-rest.js";
import type { Relay } from "../../fixtures/relay.js";
import type { ReceivedEvent } from "../../fixtures/sse-client.js";
import { props } from "./session-events.js";

/** What a client made of a session: the state a UI shows, rebuilt from its events alone. */
export function stateOf(events: ReceivedEvent[]) {
  const messages = new Map<string, { role?: string; completed: boolean }>();
  const parts = new Map<string, Record<string, unknown>>();
  let todos: unknown;
  let session: unknown;
  for (const event of events) {
    const p = props(event);
    if (event.json.type === "session.created" || event.json.type === "session.updated") session = p.info;
    if (event.json.type === "message.updated" && p.info?.id) {
      const info = p.info as { id: string; role?: string; time?: { completed?: number } };
      messages.set(info.id, { role: info.role, completed: info.time?.completed !== undefined });
    }
    if (event.json.type === "message.part.updated" && p.part?.id) parts.set(p.part.id, p.part);
    if (event.json.type === "todo.updated") todos = p.todos;
  }
  return { session, messages, parts, todos };
}

/** opencode's own state of a session, from REST (`base`: opencode itself, not the shim). */
export async function restStateOf(base: string, sessionID: string, directory?: string) {
  const get = async (path: string) => (await fetch(`${base}${withDirectory(path, directory)}`)).json();
  const list = (await get(`/session/${sessionID}/message`)) as Array<{
    info: { id: string; role: string; time: { completed?: number } };
    parts: Array<Record<string, unknown> & { id: string }>;
  }>;
  const todos = (await get(`/session/${sessionID}/todo`)) as unknown[];
  const session = await get(`/session/${sessionID}`);
  return {
    session,
    messages: new Map(
      list.map(({ info }) => [info.id, { role: info.role, completed: info.time.completed !== undefined }]),
    ),
    parts: new Map(list.flatMap(({ parts }) => parts.map((part) => [part.id, part] as const))),
    todos: todos.length > 0 ? todos : undefined,
  };
}

/** Every event's content, without what differs between two tellings of the same thing. */
export function contentOf(event: Pick<ReceivedEvent, "json">): string {
  const { time: _sent, ...rest } = (event.json.properties ?? {}) as Record<string, unknown>;
  return `${event.json.type} ${JSON.stringify(rest)}`;
}

/** How many times each content was said. */
export function tally(contents: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const content of contents) counts.set(content, (counts.get(content) ?? 0) + 1);
  return counts;
}

/** What upstream itself said on its stream, as the relay heard it before lying: each content, counted. */
export function upstreamSaid(relay: Relay): Map<string, number> {
  const contents: string[] = [];
  for (const frame of relay.heard) {
    const data = frame.trim().replace(/^data: ?/, "");
    try {
      const json = JSON.parse(data) as { payload?: ReceivedEvent["json"] };
      if (json.payload?.type) contents.push(contentOf({ json: json.payload }));
    } catch {}
  }
  return tally(contents);
}

/** What a client was told more often than upstream itself said it (at least once is always allowed). */
export function toldTwice(events: ReceivedEvent[], said: Map<string, number>): Array<[string, number]> {
  return [...tally(events.map(contentOf))].filter(
    ([content, count]) => count > Math.max(1, said.get(content) ?? 0),
  );
}
