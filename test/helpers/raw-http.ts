import { connect } from "node:net";

/** One HTTP answer read off the wire, as bytes came. */
export interface RawAnswer {
  /** Interim answers before the final one (`100 Continue`), by status. */
  interim: number[];
  status: number;
  /** Header names in lower case; a repeated header's values joined with `, `. */
  headers: Record<string, string>;
  body: string;
  /** Everything read, interim answers included. */
  text: string;
  /** Whether the server closed the connection (within the wait). */
  closed: boolean;
}

interface Head {
  status: number;
  headers: Record<string, string>;
  end: number;
}

function parseHead(text: string, from: number): Head | undefined {
  const end = text.indexOf("\r\n\r\n", from);
  if (end === -1) return undefined;
  const [statusLine = "", ...lines] = text.slice(from, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(statusLine.split(" ")[1]), headers, end: end + 4 };
}

/** Whether the final answer is all there: its body as long as it says, or (a stream, a 101) its head. */
function complete(text: string, head: Head): boolean {
  if (head.status === 101 || head.headers["content-type"]?.startsWith("text/event-stream")) return true;
  const length = head.headers["content-length"];
  if (length !== undefined) return Buffer.byteLength(text.slice(head.end)) >= Number(length);
  return head.headers["transfer-encoding"] === "chunked" && text.endsWith("0\r\n\r\n");
}

/**
 * Sends `bytes` as they are to `base`'s host and port and reads the answer: done when the
 * final answer is complete (for a stream or a 101, its head), when the server closes, or
 * after `waitMs` (then `closed` is false). `after` sends more bytes once an interim answer came.
 */
export function exchange(
  base: string,
  bytes: string,
  options: { waitMs?: number; afterContinue?: string } = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let text = "";
    let sentAfter = false;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const interim: number[] = [];
      let at = 0;
      let head = parseHead(text, at);
      while (head && head.status >= 100 && head.status < 200 && head.status !== 101) {
        interim.push(head.status);
        at = head.end;
        head = parseHead(text, at);
      }
      resolve({
        interim,
        status: head?.status ?? 0,
        headers: head?.headers ?? {},
        body: head ? text.slice(head.end) : "",
        text,
        closed,
      });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 10_000);
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      let at = 0;
      let head = parseHead(text, at);
      while (head && head.status >= 100 && head.status < 200 && head.status !== 101) {
        if (options.afterContinue !== undefined && !sentAfter) {
          sentAfter = true;
          socket.write(options.afterContinue);
        }
        at = head.end;
        head = parseHead(text, at);
      }
      if (head && complete(text, head)) finish(false);
    });
    socket.on("close", () => finish(true));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
