import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import type { Config } from "./config.js";
import { BadRequest, describeError, InternalError, isClientError, sendError } from "./errors.js";
import { Hub } from "./hub/hub.js";
import { logEachAnswer, loggerOptions } from "./logger.js";
import { Mirror } from "./opencode/mirror.js";
import { OpencodeSink } from "./opencode/sink.js";
import { PrometheusMetrics } from "./prometheus.js";
import { DisposalWitness } from "./proxy/disposal-witness.js";
import { InstanceDiscovery } from "./proxy/instance-discovery.js";
import { proxy } from "./proxy/proxy.js";
import { tunnelUpgrades } from "./proxy/websocket-tunnel.js";
import { opencodeDoor } from "./routes/door.js";
import {
  answerClientErrorAsOpencode,
  continueAsOpencode,
  refuseAsteriskTarget,
  targetAsOpencodeRoutes,
} from "./routes/request-target.js";
import { shimRoutes } from "./routes/shim.js";
import { streamRoutes } from "./routes/streams.js";
import { LogSource } from "./sources/log/log-source.js";
import { EventSources } from "./sources/sources.js";
import type { StreamJudgeOptions } from "./sources/stream-judge.js";
import { EmbeddedOpencode } from "./upstream/embedded.js";
import { asksCredentials, waitForUpstream } from "./upstream/health-check.js";
import { findOpencodeBinary } from "./upstream/opencode-bin.js";
import { Upstream } from "./upstream/upstream.js";

export interface Shim {
  app: FastifyInstance;
  hub: Hub;
  /** Undefined in passthrough mode, where upstream's own /event is relayed. */
  sources: EventSources | undefined;
  upstream: Upstream;
  /** Where the shim listens, e.g. http://127.0.0.1:4097. */
  url: string;
  /** The opencode version upstream reported. */
  upstreamVersion: string | undefined;
  /** The opencode the shim runs itself, when it was given no upstream. */
  embedded: EmbeddedOpencode | undefined;
  close(): Promise<void>;
}

export interface ShimOverrides {
  /** Replaces the JSON-to-stderr logger (tests pass `false`). */
  logger?: FastifyServerOptions["logger"];
  /** Global-source tuning, for tests of its failure handling. */
  stallTimeoutMs?: number;
  maxFrameBytes?: number;
  /** The shim's own short reads of upstream, for tests of an upstream that hangs. */
  upstreamRequestTimeoutMs?: number;
  /** How the stream's honesty is judged, for tests that cannot wait for the defaults. */
  judge?: StreamJudgeOptions;
}

/** A config whose upstream is known: given, or the embedded opencode's. */
export type RunConfig = Config & { upstream: URL };

/** Both promises, when either is one; undefined when neither is. */
function both(a: Promise<void> | undefined, b: Promise<void> | undefined): Promise<void> | undefined {
  if (!a) return b;
  if (!b) return a;
  return Promise.all([a, b]).then(() => {});
}

/** The Fastify app with its parts wired, not yet listening and with no upstream traffic. */
export function buildApp(config: RunConfig, overrides: ShimOverrides = {}) {
  const app = Fastify({
    logger: overrides.logger ?? loggerOptions(config.logLevel, config.logFormat),
    // Fastify's two lines per request are off: `logEachAnswer` writes one, when debugging.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    rewriteUrl: targetAsOpencodeRoutes,
    // Like opencode: a client whose headers do not come within 10 s is let go (checked every
    // second, not Node's default 30 s) and nothing is written to it; once in, no time limit.
    http: { headersTimeout: 10_000, requestTimeout: 0, connectionsCheckingInterval: 1_000 },
    clientErrorHandler: answerClientErrorAsOpencode,
    // A URL Fastify cannot route (bad percent-encoding) is answered as the shim answers all.
    frameworkErrors: (error, _request, reply) => void sendError(reply, new BadRequest(error.message)),
  });
  app.setErrorHandler((error, request, reply) => {
    if (isClientError(error)) return sendError(reply, error);
    // A library's refusal of the request itself (the proxy's, of a path it cannot decode).
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500)
      return sendError(reply, new BadRequest(describeError(error)));
    request.log.error({ err: error }, "a request failed in the shim");
    return sendError(reply, new InternalError(describeError(error)));
  });
  logEachAnswer(app, config.logLevel);
  continueAsOpencode(app.server);
  app.addHook("onRequest", refuseAsteriskTarget);
  const log = app.log as FastifyBaseLogger;
  const upstream = new Upstream(config.upstream, config.credentials, overrides.upstreamRequestTimeoutMs);
  app.addHook("onRequest", opencodeDoor(upstream, config.cors));
  const cutTunnels = tunnelUpgrades(app.server, { upstream, log });
  app.addHook("onClose", (_app, done) => {
    cutTunnels();
    done();
  });
  const metrics = new PrometheusMetrics(
    config.source,
    config.source === "passthrough" ? "passthrough" : config.source === "poll" ? "reconciler" : "stream",
  );
  const hub = new Hub({ replaySize: config.replaySize, metrics });
  const mirror = new Mirror();
  const sink = new OpencodeSink(hub, mirror, metrics);
  const streams = {
    hub,
    upstream,
    maxClientBufferBytes: config.maxClientBufferBytes,
    maxClients: config.maxClients,
    corsOrigins: config.cors,
  };

  if (config.source === "passthrough") {
    app.register(shimRoutes, {
      prefix: "/shim",
      hub,
      upstream,
      sources: undefined,
      corsOrigins: config.cors,
      metrics,
    });
    app.register(proxy, { upstream });
    return { app, upstream, hub, sources: undefined, logSource: undefined };
  }
  const sources = new EventSources({
    mode: config.source,
    upstream,
    sink,
    mirror,
    audience: hub,
    log,
    metrics,
    pollIntervalMs: config.pollIntervalMs,
    readBudget: config.readBudget,
    stream: { stallTimeoutMs: overrides.stallTimeoutMs, maxFrameBytes: overrides.maxFrameBytes },
    judge: overrides.judge,
    followsLog: config.logDir !== undefined,
  });
  const logSource = config.logDir
    ? new LogSource(config.logDir, (hint) => sources.fromLog(hint), log)
    : undefined;

  app.register(streamRoutes, { ...streams, sources });
  app.register(shimRoutes, { prefix: "/shim", hub, upstream, sources, corsOrigins: config.cors, metrics });
  const discovery = new InstanceDiscovery(sources, hub, upstream, log);
  const witness = new DisposalWitness(sink, hub, upstream);
  app.register(proxy, {
    upstream,
    notice: (request) => both(discovery.notice(request), witness.before(request)),
    answered: (request, statusCode) => witness.answered(request, statusCode),
  });
  return { app, upstream, hub, sources, logSource };
}

/**
 * Waits for upstream, starts the event sources, then listens. Rejects (with nothing
 * left running) when upstream never becomes ready.
 */
export async function startShim(given: Config, overrides: ShimOverrides = {}): Promise<Shim> {
  let embedded: EmbeddedOpencode | undefined;
  let config: RunConfig;
  if (given.upstream) {
    config = { ...given, upstream: given.upstream };
  } else {
    const log = Fastify({ logger: overrides.logger ?? loggerOptions(given.logLevel, given.logFormat) }).log;
    embedded = new EmbeddedOpencode({
      bin: findOpencodeBinary(given.opencodeBin, process.env),
      // The origins the shim allows, opencode allows too: a browser app needs its REST as well.
      args: [...given.cors.flatMap((origin) => ["--cors", origin]), ...given.opencodeArgs],
      env: process.env,
      log,
    });
    try {
      const url = await embedded.start();
      config = { ...given, upstream: url, logDir: given.logDir ?? embedded.logDir };
    } catch (error) {
      await embedded.stop();
      throw error;
    }
  }
  const { app, upstream, hub, sources, logSource } = buildApp(config, overrides);
  let heartbeat: NodeJS.Timeout | undefined;
  const close = async () => {
    clearInterval(heartbeat);
    await hub.close();
    await Promise.all([logSource?.close(), sources?.stop(), app.close(), embedded?.stop()]);
    await upstream.close();
  };
  try {
    const started = Date.now();
    app.log.info(`waiting for upstream ${upstream.origin} (up to ${config.upstreamWaitMs} ms)`);
    const health = await waitForUpstream(upstream, config.upstreamWaitMs);
    if (upstream.credentials && !(await asksCredentials(upstream))) {
      upstream.asksNone();
      app.log.warn(
        "the shim has OPENCODE_SERVER_PASSWORD but opencode asks clients for no credentials: the shim lets them in as opencode does",
      );
    }
    await sources?.start(Math.max(config.upstreamWaitMs - (Date.now() - started), 1000));
    await logSource?.start();
    await app.listen({ host: config.host, port: config.port });
    heartbeat = setInterval(() => hub.heartbeat(), config.heartbeatMs);
    heartbeat.unref();
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    const source = sources ? `${sources.mode} (clients fed by the ${sources.feeder})` : "passthrough";
    app.log.info(
      { upstream: upstream.origin, upstreamVersion: health.version, source, logDir: config.logDir },
      `fronting opencode ${health.version ?? "(unknown version)"} at ${upstream.origin}; /event source: ${source}`,
    );
    return {
      app,
      hub,
      sources,
      upstream,
      embedded,
      url: `http://${host}:${port}`,
      upstreamVersion: health.version,
      close,
    };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
