import { INSTANCE_DISPOSED } from "../hub/frames.js";
import type { Hub } from "../hub/hub.js";
import type { Envelope } from "../hub/update.js";
import { type Admission, type Feeder, type Metrics, noMetrics } from "../metrics.js";
import { STALE_AFTER_CORRECTION_MS } from "../trust.js";
import { Disposals } from "./disposals.js";
import { type EventKind, eventKind, lineageOf, propertiesOf, sessionOf } from "./events.js";
import type { History, Mirror } from "./mirror.js";

export type { Admission };

/**
 * The one way events enter: every source — upstream's stream, the reconciler, the proxy —
 * is given a sink, and nothing else of the hub. Grep `publish(` to find every way in.
 */
export interface Sink {
  /** Admits an event to clients, or drops it (and says why): the one place that decides. */
  publish(envelope: Envelope): Admission;
  /**
   * Writes out what was published so far, now: a source that has read a chunk calls it, so
   * the chunk's events need not wait for the end of the event loop's turn (when the hub
   * writes them otherwise).
   */
  flush(): void;
  /** What a read of upstream found that was there before: taken in, not announced. */
  takeInHistory(directory: string, history: History): void;
  /** A call that disposes `directory` is on its way upstream: its disposal is news again. */
  disposing(directory: string): void;
  /**
   * Nobody follows `directory` any more: what clients were told of it and its history are
   * let go (a client resuming into that history starts afresh, as the state it resumes is
   * no longer known).
   */
  forget(directory: string): void;
}

/** What the sink needs to know of upstream's stream to admit its events: who the stream's judge says feeds clients, and whether the stream is behind. */
export interface StreamStanding {
  readonly feeder: Feeder;
  /** Whether the stream has yet to carry what a correction told of the session: its word on the session's status is older. */
  behindOn(sessionID: string): boolean;
  /** The stream told of something clients were never told of (a delta of an unknown part): a read of the instance should tell it. */
  unknownTold?(directory: string): void;
}

const TRUSTED_STREAM: StreamStanding = { feeder: "stream", behindOn: () => false };

/**
 * The sink in front of the hub, where every event is admitted or dropped, once, with what
 * the event table says of its type: stale when it only says again, or says older, what a
 * correction told (a short while ago behind a trusted stream; ever, while the reconciler
 * feeds clients); held back when it is a delta of a part clients never heard of while the
 * reconciler feeds them; a duplicate when its news was told already. A session's first update gets the
 * `session.created` nobody sent. The hub then numbers and delivers the event, and the
 * mirror takes it in.
 */
export class OpencodeSink implements Sink {
  private readonly disposals = new Disposals();
  private standing = TRUSTED_STREAM;

  /** `mirror`: what clients were told, which only the sink changes; everyone else reads it. */
  constructor(
    private readonly hub: Hub,
    private readonly mirror: Mirror,
    private readonly metrics: Metrics = noMetrics,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** From now on, the stream's events are admitted as `standing` says. */
  judgedBy(standing: StreamStanding): void {
    this.standing = standing;
  }

  publish(envelope: Envelope): Admission {
    const admission = this.dropReason(envelope) ?? this.admit(envelope);
    this.metrics.eventAdmitted(envelope.origin ?? "stream", envelope.payload.type, admission);
    return admission;
  }

  flush(): void {
    this.hub.flush();
  }

  takeInHistory(directory: string, history: History): void {
    this.mirror.takeInHistory(directory, history);
  }

  disposing(directory: string): void {
    this.disposals.expect(directory);
  }

  forget(directory: string): void {
    this.hub.forget(directory);
    this.mirror.forget(directory);
  }

  /** Why clients must not get the event, if they must not (short of a duplicate id, which the hub finds). */
  private dropReason(envelope: Envelope): Exclude<Admission, "new"> | undefined {
    const { directory, payload } = envelope;
    if (payload.type === INSTANCE_DISPOSED)
      return this.disposals.repeats(directory, this.now()) ? "duplicate" : undefined;
    const kind = eventKind(payload.type);
    if (!kind || (envelope.origin ?? "stream") !== "stream") return undefined;
    if (kind.status && this.standing.behindOn(sessionOf(payload) ?? "")) return "stale";
    if (kind.rebuilt && this.standing.feeder === "reconciler") return this.merged(kind, envelope);
    return this.saidByCorrection(kind, envelope, STALE_AFTER_CORRECTION_MS) ? "stale" : undefined;
  }

  /**
   * While the reconciler feeds clients, what the stream still carries goes out as it comes
   * — text deltas word by word — and the reconciler fills in only what it did not carry:
   * merged, not switched off. Dropped: what only says again, or says older, what a
   * correction told, however long ago (a lying stream may be late); a delta of a part
   * clients were never told of (the stream lost the part): held, and a read is asked for,
   * which tells the part whole.
   */
  private merged(kind: EventKind, envelope: Envelope): "stale" | "held" | undefined {
    if (this.saidByCorrection(kind, envelope, Number.POSITIVE_INFINITY)) return "stale";
    if (
      kind.perToken &&
      kind.subject?.(this.mirror.instance(envelope.directory), propertiesOf(envelope.payload)) === undefined
    ) {
      this.standing.unknownTold?.(envelope.directory);
      return "held";
    }
    return undefined;
  }

  /**
   * Whether the stream comes late, after the reconciler told clients the state of the same
   * thing (a short while ago): it says the same again, or something older. What the stream
   * says further on is news; what the reconciler did not set passes, so an honest stream's
   * own repeats go out untouched.
   */
  private saidByCorrection(kind: EventKind, envelope: Envelope, withinMs: number): boolean {
    if (!kind.subject) return false;
    const view = this.mirror.instance(envelope.directory);
    const p = propertiesOf(envelope.payload);
    const told = kind.subject(view, p);
    if (told?.corrected !== true || this.now() - (told.at ?? 0) >= withinMs) return false;
    return !kind.furtherThan?.(told.value, p, view);
  }

  /**
   * Announces what clients are owed before an event of the stream, then hands the event to
   * the hub: new, unless its id was seen. (The reconciler's corrections carry what is owed
   * before them already: it decides turn ends from its ledger.)
   */
  private admit(envelope: Envelope): Admission {
    const { directory, payload } = envelope;
    const fromStream = (envelope.origin ?? "stream") === "stream";
    const owed = fromStream
      ? eventKind(payload.type)?.owedBefore?.(this.mirror.instance(directory), propertiesOf(payload))
      : undefined;
    if (owed && this.deliver({ ...envelope, origin: "reconciler", payload: owed, asOf: undefined }))
      this.metrics.eventAdmitted("reconciler", owed.type, "new");
    return this.deliver(envelope) ? "new" : "duplicate";
  }

  private deliver(envelope: Envelope): boolean {
    const lineage = lineageOf(this.mirror.instance(envelope.directory), envelope.payload);
    const update = this.hub.dispatch(envelope, lineage);
    if (update) this.mirror.apply(update, this.now());
    return update !== undefined;
  }
}
