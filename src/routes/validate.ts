import type { FastifyRequest } from "fastify";

/** Longer than any path a filesystem takes (PATH_MAX is 4096). */
const MAX_DIRECTORY = 4096;
const MAX_WORKSPACE = 256;

function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/** The raw (still encoded) values of one query parameter. */
function rawQueryValues(url: string, name: string): string[] {
  const start = url.indexOf("?");
  if (start === -1) return [];
  const values: string[] = [];
  for (const pair of url.slice(start + 1).split("&")) {
    const equals = pair.indexOf("=");
    const key = equals === -1 ? pair : pair.slice(0, equals);
    if (decode(key) === name) values.push(equals === -1 ? "" : pair.slice(equals + 1));
  }
  return values;
}

/**
 * What is wrong with the way an event-stream request names its instance, if anything: a
 * clear 400 beats handing upstream a directory it can only choke on.
 */
export function instanceNameProblem(request: FastifyRequest): string | undefined {
  const directories = rawQueryValues(request.url, "directory");
  const header = request.headers["x-opencode-directory"];
  if (typeof header === "string") directories.push(header);
  for (const raw of directories) {
    const directory = decode(raw);
    if (directory === undefined) return "directory is not valid percent-encoding";
    if (directory.length > MAX_DIRECTORY) return `directory is longer than ${MAX_DIRECTORY} characters`;
    if (directory.includes("\0")) return "directory contains a NUL character";
  }
  const workspaces = rawQueryValues(request.url, "workspace");
  const workspaceHeader = request.headers["x-opencode-workspace"];
  if (typeof workspaceHeader === "string") workspaces.push(workspaceHeader);
  for (const raw of workspaces) {
    const workspace = decode(raw);
    if (workspace === undefined) return "workspace is not valid percent-encoding";
    if (workspace.length > MAX_WORKSPACE) return `workspace is longer than ${MAX_WORKSPACE} characters`;
  }
  return undefined;
}
