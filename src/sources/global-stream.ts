import { createParser } from "eventsource-parser";
import { type GlobalFrame, readGlobalFrame } from "./global-frame.js";

export interface GlobalStreamReaderOptions {
  /**
   * Largest frame accepted. A larger complete frame is passed on as invalid; a frame
   * that grows past it without ending calls `onOversize` and the reader stops.
   */
  maxFrameBytes: number;
  onFrame(frame: GlobalFrame): void;
  onOversize(): void;
}

export interface GlobalStreamReader {
  /** Bytes as they arrive, split anywhere (inside a UTF-8 character too). */
  feed(chunk: Uint8Array): void;
}

/** Bytes of upstream's `/global/event` in, frames out: UTF-8 (BOM and all), SSE, then JSON. */
export function createGlobalStreamReader(options: GlobalStreamReaderOptions): GlobalStreamReader {
  const decoder = new TextDecoder();
  let stopped = false;
  const parser = createParser({
    maxBufferSize: options.maxFrameBytes,
    onEvent: (message) =>
      options.onFrame(
        message.data.length > options.maxFrameBytes
          ? { kind: "invalid", reason: `larger than ${options.maxFrameBytes} bytes` }
          : readGlobalFrame(message.data),
      ),
    onError: (error) => {
      if (error.type !== "max-buffer-size-exceeded") return;
      stopped = true;
      options.onOversize();
    },
  });
  return {
    feed(chunk) {
      if (!stopped) parser.feed(decoder.decode(chunk, { stream: true }));
    },
  };
}
