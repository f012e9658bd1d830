import type { FastifyPluginAsync } from "fastify";
import type { Hub } from "../hub/hub.js";
import type { EventSources } from "../sources/sources.js";
import { checkHealth } from "../upstream/health.js";
import type { Upstream } from "../upstream/upstream.js";

export interface HealthRouteOptions {
  hub: Hub;
  upstream: Upstream;
  sources: EventSources | undefined;
}

/** Probes come every few seconds from every replica's kubelet; one upstream check a second is plenty. */
const CHECK_EVERY_MS = 1000;

/**
 * `GET /shim/health`: 200 when upstream answers and the event source is live, 503 with
 * the reason otherwise — for load balancers, container health checks and people.
 */
export const healthRoute: FastifyPluginAsync<HealthRouteOptions> = async (
  app,
  { hub, upstream, sources },
) => {
  let last: { at: number; check: Promise<{ version?: string; problem?: string }> } | undefined;
  const upstreamState = () => {
    if (!last || Date.now() - last.at >= CHECK_EVERY_MS) {
      last = {
        at: Date.now(),
        check: checkHealth(upstream, 2000).then(
          (health) => ({ version: health.version }),
          (error: unknown) => ({ problem: error instanceof Error ? error.message : String(error) }),
        ),
      };
    }
    return last.check;
  };

  app.get("/health", async (_request, reply) => {
    const state = await upstreamState();
    const stream = sources?.global?.state;
    let problem = state.problem;
    if (!problem && sources?.active === "global" && stream !== "live") {
      problem = `upstream /global/event is ${stream}; reconnecting`;
    }
    return reply.code(problem ? 503 : 200).send({
      status: problem ? "unavailable" : "ok",
      ...(problem ? { reason: problem } : {}),
      upstream: { url: upstream.origin, version: state.version },
      source: sources ? { mode: sources.mode, active: sources.active, stream } : { mode: "passthrough" },
      clients: hub.subscriberTotal,
    });
  });
};
