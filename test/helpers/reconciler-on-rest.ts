import Fastify from "fastify";
import { Hub } from "../../src/hub/hub.js";
import { Mirror } from "../../src/opencode/mirror.js";
import { OpencodeSink } from "../../src/opencode/sink.js";
import { Reconciler, type ReconcilerOptions } from "../../src/sources/reconciler/reconciler.js";
import { Upstream } from "../../src/upstream/upstream.js";
import { RecordingMetrics } from "./recording-metrics.js";
import { type RestUpstream, startRestUpstream } from "./rest-upstream.js";
import type { Teardown } from "./teardown.js";

/**
 * A reconciler feeding clients (as in `--source poll`) on a scripted REST upstream, with its
 * hub, mirror and sink, nobody following any instance yet; stopped by `teardown`.
 */
export async function reconcilerOnRest(teardown: Teardown, options: Partial<ReconcilerOptions> = {}) {
  const rest: RestUpstream = await startRestUpstream();
  const upstream = new Upstream(rest.url);
  const metrics = new RecordingMetrics();
  const hub = new Hub({ replaySize: 1000, metrics });
  const mirror = new Mirror();
  const sink = new OpencodeSink(hub, mirror, metrics);
  const reconciler = new Reconciler({
    upstream,
    sink,
    mirror,
    audience: hub,
    metrics,
    log: Fastify({ logger: false }).log,
    pollIntervalMs: 50,
    ...options,
  });
  teardown.add(async () => {
    await reconciler.stop();
    await upstream.close();
    await rest.close();
  });
  return { rest, upstream, hub, mirror, sink, metrics, reconciler };
}
