/** Small helpers for opencode's REST API, through whichever base URL a test points at. */

export interface SessionInfo {
  id: string;
}

function withDirectory(path: string, directory?: string): string {
  if (!directory) return path;
  return `${path}${path.includes("?") ? "&" : "?"}directory=${encodeURIComponent(directory)}`;
}

async function json<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function createSession(
  baseUrl: string,
  options: { directory?: string; headers?: Record<string, string> } = {},
): Promise<SessionInfo> {
  const response = await fetch(`${baseUrl}${withDirectory("/session", options.directory)}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: "{}",
  });
  return json<SessionInfo>(response, "POST /session");
}

/** Sends a prompt and waits for the whole reply (opencode answers when the turn is done). */
export async function prompt(
  baseUrl: string,
  sessionID: string,
  text: string,
  options: { directory?: string; headers?: Record<string, string> } = {},
): Promise<{ info: { id: string; role: string }; parts: Array<{ type: string; text?: string }> }> {
  const response = await fetch(
    `${baseUrl}${withDirectory(`/session/${sessionID}/message`, options.directory)}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", ...options.headers },
      body: JSON.stringify({ parts: [{ type: "text", text }] }),
    },
  );
  return json(response, "POST /session/{id}/message");
}
