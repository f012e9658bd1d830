import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { messageOf } from "../errors.js";
import type { Hub } from "../hub/hub.js";
import type { EventSources } from "../sources/sources.js";
import { checkHealth } from "../upstream/health-check.js";
import type { Upstream } from "../upstream/upstream.js";

export interface HealthRouteOptions {
  hub: Hub;
  upstream: Upstream;
  sources: EventSources | undefined;
  /** Whether the caller may see the details (opencode's address and version, the source, the clients, the reason). */
  authorized: (request: FastifyRequest) => boolean;
}

/** Probes come every few seconds from every replica's kubelet; one upstream check a second is plenty. */
const CHECK_EVERY_MS = 1000;

/**
 * `GET /shim/health`: 200 when upstream answers and clients get their events — `ok`, or
 * `degraded` with the reason when the shim works around upstream's stream (down, or
 * lying) by reading REST; 503 `unavailable` with the reason when upstream does not answer
 * (or `--source global` has no stream) — for load balancers, container health checks and
 * people.
 */
export const healthRoute: FastifyPluginAsync<HealthRouteOptions> = async (
  app,
  { hub, upstream, sources, authorized },
) => {
  let last: { at: number; check: Promise<{ version?: string; problem?: string }> } | undefined;
  const upstreamState = () => {
    if (!last || Date.now() - last.at >= CHECK_EVERY_MS) {
      last = {
        at: Date.now(),
        check: checkHealth(upstream, 2000).then(
          (health) => ({ version: health.version }),
          (error: unknown) => ({ problem: messageOf(error) }),
        ),
      };
    }
    return last.check;
  };

  app.get("/health", async (request, reply) => {
    const state = await upstreamState();
    const stream = sources?.global?.state;
    let problem = state.problem;
    if (!problem && sources?.mode === "global" && stream !== "live") {
      problem = `upstream /global/event is ${stream}; reconnecting`;
    }
    const served = sources?.health ?? { status: "ok" };
    const status = problem ? "unavailable" : served.status;
    // Anyone gets the word and the code; the rest tells where opencode is and what it runs.
    if (!authorized(request)) return reply.code(problem ? 503 : 200).send({ status });
    return reply.code(problem ? 503 : 200).send({
      status,
      ...(problem ? { reason: problem } : served.reason ? { reason: served.reason } : {}),
      upstream: { url: upstream.origin, version: state.version },
      source: sources ? { mode: sources.mode, feeder: sources.feeder, stream } : { mode: "passthrough" },
      clients: hub.subscriberTotal,
    });
  });
};
