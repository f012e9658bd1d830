import type { IncomingHttpHeaders } from "node:http";
import { queryOf } from "../helpers.js";

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
  const query = queryOf(url);
  if (query === "") return [];
  const values: string[] = [];
  for (const pair of query.slice(1).split("&")) {
    const equals = pair.indexOf("=");
    const key = equals === -1 ? pair : pair.slice(0, equals);
    if (decode(key) === name) values.push(equals === -1 ? "" : pair.slice(equals + 1));
  }
  return values;
}

/**
 * A request's own query, naming `directory` instead of whatever instance it named: its
 * credentials (`auth_token`) and anything else kept as the client sent them.
 */
export function queryNaming(url: string, directory: string): string {
  const query = queryOf(url);
  const kept = query === "" ? [] : query.slice(1).split("&");
  const others = kept.filter(
    (pair) => pair !== "" && decode(pair.split("=", 1)[0] as string) !== "directory",
  );
  return `?${[...others, `directory=${encodeURIComponent(directory)}`].join("&")}`;
}

/** The values a request gives for one naming parameter: the query's, then the header's. */
function named(request: NamingRequest, name: string): string[] {
  const values = rawQueryValues(request.url, name);
  const header = request.headers[`x-opencode-${name}`];
  if (typeof header === "string") values.push(header);
  return values;
}

function nameProblem(request: NamingRequest, name: string, maxLength: number): string | undefined {
  for (const raw of named(request, name)) {
    const value = decode(raw);
    if (value === undefined) return `${name} is not valid percent-encoding`;
    if (value.length > maxLength) return `${name} is longer than ${maxLength} characters`;
    if (value.includes("\0")) return `${name} contains a NUL character`;
  }
  return undefined;
}

/** What names an instance: the query's `directory` and `workspace`, or their `x-opencode-*` headers. */
export interface NamingRequest {
  url: string;
  headers: IncomingHttpHeaders;
}

/**
 * What is wrong with the way a request names its instance, if anything: a clear 400 beats
 * handing upstream a directory it can only choke on.
 */
export function instanceNameProblem(request: NamingRequest): string | undefined {
  return nameProblem(request, "directory", MAX_DIRECTORY) ?? nameProblem(request, "workspace", MAX_WORKSPACE);
}
