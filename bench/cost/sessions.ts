import { call, createSession, prompt, type SessionInfo } from "../../fixtures/opencode-rest.js";

/**
 * Prints far more than opencode keeps of a bash call's output (it cuts at its maximum and
 * keeps the rest in a file), so the tool part holds as much as opencode ever stores.
 */
const MAX_OUTPUT_COMMAND =
  "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -n 4000";

/** The reconciler's message window (src/sources/reconciler/instance-reconciler.ts, MESSAGE_WINDOW). */
export const MESSAGE_WINDOW = 10;

export interface Template {
  id: string;
  /** Bytes of the newest `MESSAGE_WINDOW` messages as REST serves them: what one read of the window costs. */
  windowBytes: number;
  messages: number;
}

async function messageBytes(base: string, directory: string, id: string, limit: number) {
  const response = await fetch(
    `${base}/session/${id}/message?limit=${limit}&directory=${encodeURIComponent(directory)}`,
  );
  const body = Buffer.from(await response.arrayBuffer());
  if (!response.ok) throw new Error(`GET /session/${id}/message: ${response.status}`);
  return { bytes: body.length, messages: (JSON.parse(body.toString("utf8")) as unknown[]).length };
}

/** A plain exchange, two small messages: the prompt and a short reply. */
const SHORT_EXCHANGE = "[chunks:40] [delay:0] a short answer";

/**
 * A session as agents leave them: a short exchange, `toolTurns` turns each running a bash
 * call that prints opencode's maximum output (three messages: the prompt, the call, the
 * model's reply after it), and another short exchange. Built once; the busy sessions are
 * forks of it.
 */
export async function buildTemplate(base: string, directory: string, toolTurns: number): Promise<Template> {
  const { id } = await createSession(base, { directory });
  await prompt(base, id, SHORT_EXCHANGE, { directory });
  for (let turn = 0; turn < toolTurns; turn++)
    await prompt(base, id, `[bash:${MAX_OUTPUT_COMMAND}]`, { directory });
  await prompt(base, id, SHORT_EXCHANGE, { directory });
  const window = await messageBytes(base, directory, id, MESSAGE_WINDOW);
  const all = await messageBytes(base, directory, id, 1000);
  return { id, windowBytes: window.bytes, messages: all.messages };
}

/** `count` copies of the template, history and all (opencode's fork). */
export function forkSessions(base: string, directory: string, template: Template, count: number) {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const fork = await call<SessionInfo>(base, "POST", `/session/${template.id}/fork`, {}, { directory });
      return fork.id;
    }),
  );
}

/** Sessions done with are deleted, so every window sees an instance of the same size. */
export async function deleteSessions(base: string, directory: string, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => call(base, "DELETE", `/session/${id}`, undefined, { directory })));
}
