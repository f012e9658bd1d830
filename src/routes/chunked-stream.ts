import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { SubscriberStream } from "../hub/subscriber.js";

const CRLF = Buffer.from("\r\n");
/** Each buffer the hub writes, framed as one HTTP chunk: the hub writes the same buffer to every subscriber that wants it. */
const chunks = new WeakMap<Buffer, Buffer>();

function chunkOf(data: Buffer): Buffer {
  let chunk = chunks.get(data);
  if (!chunk) {
    chunk = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`, "latin1"), data, CRLF]);
    chunks.set(data, chunk);
  }
  return chunk;
}

/**
 * An event stream's frames written straight to its socket, as the HTTP/1.1 chunks Node
 * would have made of them: each buffer framed once for all the subscribers it goes to,
 * and written at once, in one piece. Node's own `response.write` frames every write again
 * and hands the socket four pieces a tick later; with a hundred subscribers that is most
 * of what a flush costs. The response keeps its head, its end (the last chunk) and its
 * `close`.
 */
class ChunkedSocketStream implements SubscriberStream {
  constructor(
    private readonly response: ServerResponse,
    private readonly socket: Socket,
  ) {}

  write(frames: Buffer): boolean {
    return this.socket.write(chunkOf(frames));
  }

  end(): void {
    this.response.end();
  }

  destroy(): void {
    this.response.destroy();
  }

  get writableLength(): number {
    return this.socket.writableLength + this.response.writableLength;
  }

  once(event: "close", listener: () => void): void {
    this.response.once(event, listener);
  }
}

/**
 * What a subscriber writes to, once the head is sent: the socket itself when Node chose
 * chunked encoding for the response (HTTP/1.1), else the response as it is.
 */
export function subscriberStreamOf(response: ServerResponse): SubscriberStream {
  const chunked = (response as ServerResponse & { chunkedEncoding?: boolean }).chunkedEncoding === true;
  const socket = response.socket;
  return chunked && socket && response.headersSent ? new ChunkedSocketStream(response, socket) : response;
}
