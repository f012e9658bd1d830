import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Hub } from "./hub/hub.js";
import type { EventSources } from "./sources/sources.js";

/**
 * The shim's Prometheus metrics. The hot path only bumps plain counters (in the hub, the
 * sources); they are read here when `/shim/metrics` is scraped. The one thing measured
 * per event is the added latency, into a histogram.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Seconds from an event's bytes arriving from upstream to its frames being written to every client. */
  readonly addedLatency: Histogram;
  private readonly parts: { hub?: Hub; sources?: EventSources } = {};

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "opencode_shim_" });
    const registers = [this.registry];
    const parts = this.parts;
    const since = new Map<string, number>();
    /** Moves a counter on by however much its source count grew since the last scrape. */
    const catchUp = (
      counter: Counter<string>,
      key: string,
      total: number,
      labels: Record<string, string> = {},
    ) => {
      const last = since.get(key) ?? 0;
      if (total > last) counter.inc(labels, total - last);
      since.set(key, total);
    };

    new Counter({
      name: "opencode_shim_events_in_total",
      help: "Events accepted into the hub, by source (global stream or reconciler) and type",
      labelNames: ["source", "type"],
      registers,
      collect() {
        for (const [key, total] of parts.hub?.stats.eventsIn ?? []) {
          const [source = "", type = ""] = key.split(" ");
          catchUp(this, `in ${key}`, total, { source, type });
        }
      },
    });
    new Counter({
      name: "opencode_shim_events_out_total",
      help: "Event frames written to clients",
      registers,
      collect() {
        catchUp(this, "out", parts.hub?.stats.framesOut ?? 0);
      },
    });
    new Counter({
      name: "opencode_shim_duplicate_events_total",
      help: "Events dropped because an event with the same id had already been published",
      registers,
      collect() {
        catchUp(this, "duplicates", parts.hub?.stats.duplicates ?? 0);
      },
    });
    new Gauge({
      name: "opencode_shim_subscribers",
      help: "Clients following an event stream (/event or the shim's own /global/event)",
      registers,
      collect() {
        this.set(parts.hub?.subscriberTotal ?? 0);
      },
    });
    new Counter({
      name: "opencode_shim_dropped_clients_total",
      help: "Clients disconnected for falling more than --max-client-buffer behind",
      registers,
      collect() {
        catchUp(this, "dropped", parts.hub?.stats.droppedClients ?? 0);
      },
    });
    new Counter({
      name: "opencode_shim_upstream_reconnects_total",
      help: "Times upstream's /global/event stream came back after being lost",
      registers,
      collect() {
        catchUp(this, "reconnects", parts.sources?.global?.reconnects ?? 0);
      },
    });
    new Counter({
      name: "opencode_shim_reconciler_corrections_total",
      help: "Events the reconciler published because no stream had told them",
      registers,
      collect() {
        catchUp(this, "corrections", parts.sources?.reconciler.corrections ?? 0);
      },
    });
    new Counter({
      name: "opencode_shim_poll_requests_total",
      help: "Requests the reconciler made to upstream's REST API",
      registers,
      collect() {
        catchUp(this, "requests", parts.sources?.reconciler.requests ?? 0);
      },
    });
    new Gauge({
      name: "opencode_shim_source_info",
      help: "The event source in use (1 for the active one)",
      labelNames: ["mode", "active"],
      registers,
      collect() {
        this.reset();
        const sources = parts.sources;
        this.set({ mode: sources?.mode ?? "passthrough", active: sources?.active ?? "passthrough" }, 1);
      },
    });
    this.addedLatency = new Histogram({
      name: "opencode_shim_event_added_latency_seconds",
      help: "Seconds from an event's bytes arriving from upstream to its frames being written to every client",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    });
  }

  /** What the metrics read when scraped (the parts exist only once the app is built). */
  watch(hub: Hub, sources: EventSources | undefined): void {
    this.parts.hub = hub;
    this.parts.sources = sources;
  }
}
