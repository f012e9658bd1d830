/** The few opencode REST calls the benchmarks make to set a scene. */

function withDirectory(path: string, directory: string | undefined): string {
  if (!directory) return path;
  return `${path}${path.includes("?") ? "&" : "?"}directory=${encodeURIComponent(directory)}`;
}

async function call<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function createSession(base: string, directory?: string): Promise<string> {
  const session = await call<{ id: string }>(base, "POST", withDirectory("/session", directory), {});
  return session.id;
}

/** Sends a prompt and resolves when the whole turn is over (opencode answers only then). */
export async function prompt(
  base: string,
  sessionID: string,
  text: string,
  directory?: string,
): Promise<void> {
  await call(base, "POST", withDirectory(`/session/${sessionID}/message`, directory), {
    parts: [{ type: "text", text }],
  });
}

/** Starts a prompt and resolves at once (204); the turn runs on. */
export async function promptAsync(base: string, sessionID: string, text: string, directory?: string) {
  await call(base, "POST", withDirectory(`/session/${sessionID}/prompt_async`, directory), {
    parts: [{ type: "text", text }],
  });
}

export async function abort(base: string, sessionID: string, directory?: string): Promise<void> {
  await call(base, "POST", withDirectory(`/session/${sessionID}/abort`, directory));
}

/** All of them: without a limit opencode lists the newest 100 only. */
export async function sessionCount(base: string, directory?: string): Promise<number> {
  return (await call<unknown[]>(base, "GET", withDirectory("/session?limit=1000000", directory))).length;
}
