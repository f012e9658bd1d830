import type { IncomingHttpHeaders } from "node:http";
import { SessionNotFound } from "../errors.js";
import { isObject, stringOf } from "../json.js";
import { askUpstream } from "./ask.js";
import { clientHeaders, type InstanceResolution, refusalOf } from "./instance.js";
import type { Upstream } from "./upstream.js";

export type SessionLookup =
  | { ok: true; id: string; directory: string | undefined }
  | { ok: false; notFound: InstanceType<typeof SessionNotFound> }
  | Extract<InstanceResolution, { ok: false }>;

/**
 * Asks upstream, as the client (its credentials, its instance: `query`), whether it knows
 * session `id`, and the directory the session lives in. Upstream's 404 is the shim's
 * `not_found`; any other refusal is upstream's own answer, sent on as it is.
 */
export async function lookUpSession(
  upstream: Upstream,
  id: string,
  query: string,
  requestHeaders: IncomingHttpHeaders,
): Promise<SessionLookup> {
  const path = `/session/${encodeURIComponent(id)}${query}`;
  const answer = await askUpstream(upstream, path, { asClient: clientHeaders(requestHeaders) });
  if (answer.statusCode === 404)
    return { ok: false, notFound: new SessionNotFound(`opencode has no session ${id}`) };
  if (answer.statusCode !== 200) return refusalOf(answer);
  const info = answer.json<unknown>();
  return { ok: true, id, directory: isObject(info) ? stringOf(info.directory) : undefined };
}
