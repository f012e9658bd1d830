import type { FastifyReply, FastifyRequest } from "fastify";
import { sendError } from "../errors.js";
import { firstString, queryOf } from "../helpers.js";
import type { Hub } from "../hub/hub.js";
import { Subscriber } from "../hub/subscriber.js";
import type { EventSources } from "../sources/sources.js";
import { SSE_HEADERS } from "../sse.js";
import { type InstanceResolution, resolveInstance } from "../upstream/instance.js";
import { queryNaming } from "../upstream/instance-name.js";
import { lookUpSession, type SessionLookup } from "../upstream/session-lookup.js";
import type { Upstream } from "../upstream/upstream.js";
import { subscriberStreamOf } from "./chunked-stream.js";
import { streamCorsHeaders } from "./cors.js";
import {
  refusedAtOnce,
  refuseForUpstream,
  sendRefusal,
  tooManyClients,
  withCors,
} from "./stream-refusals.js";

export interface StreamOptions {
  hub: Hub;
  upstream: Upstream;
  maxClientBufferBytes: number;
  /** Streams open at once; one more is answered 503. */
  maxClients: number;
  /** Browser origins allowed beyond opencode's own (`--cors`). */
  corsOrigins: readonly string[];
}

/** What the routes of the streams the shim rebuilds are given. */
export interface StreamRouteOptions extends StreamOptions {
  sources: EventSources;
  /** Hands a request to upstream as the proxy would. */
  passOn: (request: FastifyRequest, reply: FastifyReply) => FastifyReply;
}

/** A resolution that could be had: the instance's directory, and upstream's CORS headers. */
type Resolved = Extract<InstanceResolution, { ok: true }>;

/**
 * Asks upstream, as the client, which instance the request names (or, with `instanceUrl`,
 * the instance that URL's query names). Undefined when the reply has been sent already:
 * upstream's own refusal, or a 502 when it cannot be asked.
 */
async function resolveForClient(
  options: StreamOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  instanceUrl = request.url,
  headers = request.headers,
): Promise<Resolved | undefined> {
  let resolution: InstanceResolution;
  try {
    resolution = await resolveInstance(options.upstream, instanceUrl, headers);
  } catch (error) {
    await refuseForUpstream(options, request, reply, error, "");
    return undefined;
  }
  if (!resolution.ok) {
    await sendRefusal(reply, resolution);
    return undefined;
  }
  return resolution;
}

/**
 * Asks upstream, as the client, for each session a stream is to follow (in `query`'s
 * instance). The looked-up sessions; undefined when the reply has been sent already: 404
 * for one upstream does not know, upstream's own refusal, or a 502 when it cannot be asked.
 */
async function lookUpForClient(
  options: StreamOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  ids: readonly string[],
  query: string,
): Promise<Array<Extract<SessionLookup, { ok: true }>> | undefined> {
  let lookups: SessionLookup[];
  try {
    lookups = await Promise.all(ids.map((id) => lookUpSession(options.upstream, id, query, request.headers)));
  } catch (error) {
    await refuseForUpstream(options, request, reply, error, "cannot look up the session: ");
    return undefined;
  }
  const found: Array<Extract<SessionLookup, { ok: true }>> = [];
  for (const lookup of lookups) {
    if (lookup.ok) found.push(lookup);
    else if ("notFound" in lookup) {
      await sendError(withCors(options, request, reply), lookup.notFound);
      return undefined;
    } else {
      await sendRefusal(reply, lookup);
      return undefined;
    }
  }
  return found;
}

/** Which stream a request asks for. */
export type StreamScope =
  /** The whole server's (the shim's own `/global/event`). */
  | { global: true }
  /** The instance the request names (`/event`): of one workspace, of some sessions and their descendants, if asked. */
  | { global: false; workspace: string | undefined; sessions?: readonly string[] }
  /** One session's and its descendants', in the session's own instance (`/session/{id}/event`). */
  | { global: false; session: string };

/**
 * Serves one of the shim's event streams: resolves the client's instance as upstream
 * would (and the sessions it follows, as the client), has the sources follow the instance,
 * then opens the stream — of that instance (`/event`), or of every followed instance, the
 * client's among them (the shim's own `/global/event`).
 */
export async function serveStream(
  options: StreamRouteOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  scope: StreamScope,
): Promise<void> {
  if (await refusedAtOnce(options, request, reply)) return;
  let resolution: Resolved | undefined;
  let sessions: readonly string[] | undefined;
  if ("session" in scope) {
    // The session's instance: where it lives, whatever instance the request names.
    const found = await lookUpForClient(options, request, reply, [scope.session], queryOf(request.url));
    if (!found) return;
    const directory = found[0]?.directory;
    if (directory) {
      const { "x-opencode-directory": _named, ...headers } = request.headers;
      const url = `/path${queryNaming(request.url, directory)}`;
      resolution = await resolveForClient(options, request, reply, url, headers);
    } else resolution = await resolveForClient(options, request, reply);
    sessions = [scope.session];
  } else {
    resolution = await resolveForClient(options, request, reply);
    if (resolution && !scope.global && scope.sessions) {
      const query = queryNaming(request.url, resolution.directory);
      if (!(await lookUpForClient(options, request, reply, scope.sessions, query))) return;
      sessions = scope.sessions;
    }
  }
  if (!resolution) return;
  try {
    await options.sources.prepare(resolution.directory, sessions !== undefined);
  } catch (error) {
    await refuseForUpstream(options, request, reply, error, "cannot read upstream's state: ");
    return;
  }
  if (scope.global) openStream(options, request, reply, resolution, undefined, undefined, undefined);
  else {
    const workspace = "workspace" in scope ? scope.workspace : undefined;
    const followed = sessions ? new Set(sessions) : undefined;
    openStream(options, request, reply, resolution, resolution.directory, workspace, followed);
  }
}

/**
 * Turns the reply into an event stream fed by the hub: `directory` for an instance's
 * `/event`, undefined for the whole server's `/global/event`.
 */
function openStream(
  options: StreamOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  resolution: Resolved,
  directory: string | undefined,
  workspace: string | undefined,
  sessions: ReadonlySet<string> | undefined,
): void {
  if (request.raw.destroyed) return;
  if (options.hub.subscriberTotal >= options.maxClients) {
    void tooManyClients(options, withCors(options, request, reply));
    return;
  }
  reply.hijack();
  const response = reply.raw;
  const cors = streamCorsHeaders(
    firstString(request.headers.origin),
    options.corsOrigins,
    resolution.headers,
  );
  response.writeHead(200, { ...SSE_HEADERS, ...cors });
  response.flushHeaders();
  const subscriber = new Subscriber(
    directory,
    workspace,
    subscriberStreamOf(response),
    options.maxClientBufferBytes,
    sessions,
  );
  subscriber.onClose(() => {
    if (subscriber.overflowed) request.log.warn("dropped a client that stopped reading its event stream");
  });
  options.hub.subscribe(subscriber, lastEventIdOf(request));
}

/** Where a client resumes from: its `Last-Event-ID`, or (where a browser cannot set one) `?lastEventID=`, as Mercure takes it. */
function lastEventIdOf(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown> | undefined;
  return firstString(request.headers["last-event-id"]) ?? firstString(query?.lastEventID);
}
