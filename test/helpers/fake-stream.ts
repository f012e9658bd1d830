import { EventEmitter } from "node:events";
import { createParser } from "eventsource-parser";
import type { SubscriberStream } from "../../src/hub/subscriber.js";

/** A stand-in for a client's HTTP response: records what is written; can stop "reading". */
export class FakeStream extends EventEmitter {
  readonly chunks: Buffer[] = [];
  ended = false;
  destroyed = false;
  /** While true, written bytes pile up as if the client had stopped reading. */
  stuck = false;
  writableLength = 0;

  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    if (this.stuck) this.writableLength += chunk.length;
    return true;
  }

  end(): this {
    this.ended = true;
    this.emit("close");
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    this.emit("close");
    return this;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  /** The frames received, parsed: `{id, json}`. */
  frames(): Array<{ id: string | undefined; json: { id?: string; type: string; properties?: unknown } }> {
    const out: Array<{ id: string | undefined; json: { id?: string; type: string } }> = [];
    const parser = createParser({
      onEvent: (message) => out.push({ id: message.id, json: JSON.parse(message.data) }),
    });
    parser.feed(this.text());
    return out;
  }

  types(): string[] {
    return this.frames().map((frame) => frame.json.type);
  }

  asStream(): SubscriberStream {
    return this as unknown as SubscriberStream;
  }
}
