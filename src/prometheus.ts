import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Admission, EventOrigin, Feeder, Metrics, SwitchReason } from "./metrics.js";

/** The shim's metrics as Prometheus text (`GET /shim/metrics`), counted as things happen. */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly eventsIn: Counter<"source" | "type">;
  private readonly eventsOut: Counter;
  private readonly dropped: Counter<"reason">;
  private readonly subscribers: Gauge;
  private readonly droppedClients: Counter;
  private readonly reconnects: Counter;
  private readonly corrections: Counter<"type">;
  private readonly requests: Counter;
  private readonly deferredRequests: Counter;
  private readonly instances: Gauge;
  private readonly sourceInfo: Gauge<"mode" | "feeder">;
  private readonly switches: Counter<"to" | "reason">;
  private readonly degraded: Gauge;
  private readonly latency: Histogram;
  /** Children of labelled counters by their labels (see `cachedChild`). */
  private readonly published = new Map<string, Counter.Internal>();
  private readonly corrected = new Map<string, Counter.Internal>();
  private readonly droppedBy = new Map<string, Counter.Internal>();
  private degradedSince: number | undefined;
  private degradedSeconds = 0;

  /** `mode`: the `--source` the shim runs with; `feeder`: who feeds clients at start (upstream's own `/event`, relayed, in passthrough). */
  constructor(
    private readonly mode: string,
    feeder: Feeder | "passthrough",
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: "opencode_shim_" });
    const registers = [this.registry];
    const counter = <L extends string = string>(name: string, help: string, labelNames: L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string = string>(name: string, help: string, labelNames: L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers });
    this.eventsIn = counter(
      "opencode_shim_events_in_total",
      "Events the sink admitted for clients, by source (upstream's stream, the reconciler, the proxy) and type",
      ["source", "type"],
    );
    this.eventsOut = counter("opencode_shim_events_out_total", "Event frames written to clients");
    this.dropped = counter(
      "opencode_shim_events_dropped_total",
      "Events the sink dropped: a duplicate (its id or its news told already), stale (what a correction told, or older), or held back (while the reconciler feeds clients, a delta of a part clients were never told of)",
      ["reason"],
    );
    this.subscribers = gauge(
      "opencode_shim_subscribers",
      "Clients following an event stream (/event or the shim's own /global/event)",
    );
    this.droppedClients = counter(
      "opencode_shim_dropped_clients_total",
      "Clients disconnected for falling more than --max-client-buffer behind",
    );
    this.reconnects = counter(
      "opencode_shim_upstream_reconnects_total",
      "Times upstream's /global/event stream came back after being lost",
    );
    this.corrections = counter(
      "opencode_shim_reconciler_corrections_total",
      "Events the reconciler published because no stream had told them, by type",
      ["type"],
    );
    this.requests = counter(
      "opencode_shim_reconciler_requests_total",
      "Requests the reconciler made to upstream's REST API",
    );
    this.deferredRequests = counter(
      "opencode_shim_reconciler_requests_deferred_total",
      "Requests of the reconciler that waited for the read budget (--read-budget) before going to upstream",
    );
    this.instances = gauge(
      "opencode_shim_reconciler_instances",
      "Instances the reconciler reads now (each is let go a while after nobody follows it)",
    );
    this.sourceInfo = gauge(
      "opencode_shim_source_info",
      "The --source mode, and who feeds clients now (1 for the current feeder): upstream's stream or the reconciler",
      ["mode", "feeder"],
    );
    this.switches = counter(
      "opencode_shim_feeder_switches_total",
      "Moves of clients between upstream's stream and the reconciler, by who feeds them now and why",
      ["to", "reason"],
    );
    this.degraded = gauge(
      "opencode_shim_degraded",
      "1 while the reconciler feeds clients in place of upstream's stream (down, or lying), 0 otherwise",
    );
    const self = this;
    new Counter({
      name: "opencode_shim_degraded_seconds_total",
      help: "Seconds the shim spent working around upstream's stream",
      registers,
      collect() {
        const now = performance.now();
        if (self.degradedSince !== undefined) {
          self.degradedSeconds += (now - self.degradedSince) / 1000;
          self.degradedSince = now;
        }
        this.reset();
        this.inc(self.degradedSeconds);
      },
    });
    this.latency = new Histogram({
      name: "opencode_shim_event_added_latency_seconds",
      help: "Seconds from an event's bytes arriving from upstream to its frames being written to every client",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    });
    this.sourceInfo.set({ mode, feeder }, 1);
    this.degraded.set(0);
  }

  eventAdmitted(origin: EventOrigin, type: string, admission: Admission): void {
    if (admission !== "new") {
      cachedChild(this.droppedBy, admission, () => this.dropped.labels(admission)).inc();
      return;
    }
    cachedChild(this.published, `${origin} ${type}`, () => this.eventsIn.labels(origin, type)).inc();
    if (origin === "reconciler") cachedChild(this.corrected, type, () => this.corrections.labels(type)).inc();
  }

  framesWritten(count: number): void {
    this.eventsOut.inc(count);
  }

  clientConnected(): void {
    this.subscribers.inc();
  }

  clientDisconnected(dropped: boolean): void {
    this.subscribers.dec();
    if (dropped) this.droppedClients.inc();
  }

  streamReconnected(): void {
    this.reconnects.inc();
  }

  feederChanged(feeder: Feeder, reason: SwitchReason): void {
    const degraded = feeder === "reconciler";
    this.sourceInfo.reset();
    this.sourceInfo.set({ mode: this.mode, feeder }, 1);
    this.switches.inc({ to: feeder, reason });
    this.degraded.set(degraded ? 1 : 0);
    const now = performance.now();
    if (this.degradedSince !== undefined) this.degradedSeconds += (now - this.degradedSince) / 1000;
    this.degradedSince = degraded ? now : undefined;
  }

  upstreamRead(): void {
    this.requests.inc();
  }

  upstreamReadDeferred(): void {
    this.deferredRequests.inc();
  }

  instancesRead(count: number): void {
    this.instances.set(count);
  }

  addedLatency(seconds: number): void {
    this.latency.observe(seconds);
  }
}

/** A labelled counter's child, looked up once: prom-client's own lookup hashes the labels on every call. */
function cachedChild(
  children: Map<string, Counter.Internal>,
  key: string,
  make: () => Counter.Internal,
): Counter.Internal {
  let child = children.get(key);
  if (!child) {
    child = make();
    children.set(key, child);
  }
  return child;
}
