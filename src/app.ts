import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import type { Config } from "./config.js";
import { Hub } from "./hub/hub.js";
import { loggerOptions } from "./log.js";
import { proxy } from "./proxy.js";
import { eventRoute } from "./routes/event.js";
import { GlobalSource } from "./sources/global.js";
import { waitForUpstream } from "./upstream/health.js";
import { Upstream } from "./upstream/upstream.js";

export interface Shim {
  app: FastifyInstance;
  hub: Hub;
  source: GlobalSource;
  upstream: Upstream;
  /** Where the shim listens, e.g. http://127.0.0.1:4097. */
  url: string;
  /** The opencode version upstream reported. */
  upstreamVersion: string | undefined;
  close(): Promise<void>;
}

export interface ShimOverrides {
  /** Replaces the JSON-to-stderr logger (tests pass `false`). */
  logger?: FastifyServerOptions["logger"];
  /** Global-source tuning, for tests of its failure handling. */
  stallTimeoutMs?: number;
}

/** The Fastify app with its parts wired, not yet listening and with no upstream traffic. */
export function buildApp(config: Config, overrides: ShimOverrides = {}) {
  const app = Fastify({
    logger: overrides.logger ?? loggerOptions(config.logLevel),
    // One line per request is noise on a sidecar's hot path; it is there when debugging.
    logController: new LogController({
      disableRequestLogging: config.logLevel !== "debug" && config.logLevel !== "trace",
    }),
    forceCloseConnections: true,
  });
  const upstream = new Upstream(config.upstream, config.credentials);
  const hub = new Hub({ replaySize: config.replaySize });
  const source = new GlobalSource({
    upstream,
    hub,
    log: app.log as FastifyBaseLogger,
    stallTimeoutMs: overrides.stallTimeoutMs,
  });
  app.register(eventRoute, { hub, upstream, maxClientBufferBytes: config.maxClientBufferBytes });
  app.register(proxy, { upstream });
  return { app, upstream, hub, source };
}

/**
 * Waits for upstream, joins its global stream, then listens. Rejects (with nothing left
 * running) when upstream never becomes ready.
 */
export async function startShim(config: Config, overrides: ShimOverrides = {}): Promise<Shim> {
  const { app, upstream, hub, source } = buildApp(config, overrides);
  let heartbeat: NodeJS.Timeout | undefined;
  const close = async () => {
    clearInterval(heartbeat);
    hub.close();
    await source.stop();
    await app.close();
    await upstream.close();
  };
  try {
    const started = Date.now();
    app.log.info(`waiting for upstream ${upstream.origin} (up to ${config.upstreamWaitMs} ms)`);
    const health = await waitForUpstream(upstream, config.upstreamWaitMs);
    source.start();
    await source.ready(Math.max(config.upstreamWaitMs - (Date.now() - started), 1000));
    await app.listen({ host: config.host, port: config.port });
    heartbeat = setInterval(() => hub.heartbeat(), config.heartbeatMs);
    heartbeat.unref();
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    app.log.info(
      { upstream: upstream.origin, upstreamVersion: health.version, source: "global" },
      `fronting opencode ${health.version ?? "(unknown version)"} at ${upstream.origin}; /event rebuilt from /global/event`,
    );
    return {
      app,
      hub,
      source,
      upstream,
      url: `http://${host}:${port}`,
      upstreamVersion: health.version,
      close,
    };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
