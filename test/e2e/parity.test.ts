import { describe, expect, it } from "vitest";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { e2eSetup } from "../helpers/e2e.js";
import { shellAnswers } from "../helpers/pty.js";
import { exchange, type RawAnswer } from "../helpers/raw-http.js";

/** A password whose token ends in `=`, so an unpadded token can be tried. */
const PASSWORD = "s3cret-pass";
const b64 = (text: string) => Buffer.from(text).toString("base64");
const GOOD = b64(`opencode:${PASSWORD}`);
const BAD = b64("opencode:wrong");

type Header = [string, string];

/** A request as bytes: the request line, `Host` first, then the given headers in order. */
function request(method: string, target: string, headers: Header[] = [], body = ""): string {
  const lines = [`${method} ${target} HTTP/1.1`, "Host: localhost", ...headers.map(([n, v]) => `${n}: ${v}`)];
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** What must be the same of two answers: status, interim answers, challenge, content type, and the body's shape. */
function shape(answer: RawAnswer) {
  const type = answer.headers["content-type"]?.split(";")[0];
  let body: unknown = answer.body;
  if (type === "application/json") {
    const parsed = JSON.parse(answer.body) as unknown;
    body = Array.isArray(parsed) ? "a JSON array" : Object.keys(parsed as object).sort();
  } else if (type === "text/event-stream") body = "a stream";
  if (answer.status === 101) body = "a WebSocket";
  return {
    status: answer.status,
    interim: answer.interim,
    challenge: answer.headers["www-authenticate"],
    type,
    body,
  };
}

/**
 * The same bytes to opencode 1.14.48 (with a password) and to the shim in front of it,
 * side by side: the shim's answer is opencode's, whatever the request.
 */
describe("the shim answers as opencode answers (1.14.48, with a password)", () => {
  const e2e = e2eSetup({ version: "1.14.48", password: PASSWORD, shim: true });
  const both = (bytes: string, options?: Parameters<typeof exchange>[2]) =>
    Promise.all([exchange(e2e.opencode.url, bytes, options), exchange(e2e.shim.url, bytes, options)]);

  it("reads credentials as opencode reads them, on proxied routes, rebuilt streams and the shim's own", async () => {
    const cases: Array<[string, Header[], string]> = [
      ["none", [], ""],
      ["Basic", [["Authorization", `Basic ${GOOD}`]], ""],
      ["basic", [["Authorization", `basic ${GOOD}`]], ""],
      ["BASIC", [["Authorization", `BASIC ${GOOD}`]], ""],
      ["a tab", [["Authorization", `Basic\t${GOOD}`]], ""],
      ["spaces", [["Authorization", `Basic   ${GOOD}`]], ""],
      ["unpadded", [["Authorization", `Basic ${GOOD.replace(/=+$/, "")}`]], ""],
      ["Bearer", [["Authorization", `Bearer ${GOOD}`]], ""],
      ["two in one", [["Authorization", `Basic ${GOOD}, Basic ${GOOD}`]], ""],
      ["a colon too many", [["Authorization", `Basic ${b64(`opencode:${PASSWORD}:x`)}`]], ""],
      [
        "good then bad",
        [
          ["Authorization", `Basic ${GOOD}`],
          ["Authorization", `Basic ${BAD}`],
        ],
        "",
      ],
      [
        "bad then good",
        [
          ["Authorization", `Basic ${BAD}`],
          ["Authorization", `Basic ${GOOD}`],
        ],
        "",
      ],
      ["auth_token", [], `auth_token=${encodeURIComponent(GOOD)}`],
      ["%61uth_token", [], `%61uth_token=${encodeURIComponent(GOOD)}`],
      ["auth%5Ftoken", [], `auth%5Ftoken=${encodeURIComponent(GOOD)}`],
      ["AUTH_TOKEN", [], `AUTH_TOKEN=${encodeURIComponent(GOOD)}`],
      ["tokens good then bad", [], `auth_token=${encodeURIComponent(GOOD)}&auth_token=${BAD}`],
      ["tokens bad then good", [], `auth_token=${BAD}&auth_token=${encodeURIComponent(GOOD)}`],
      ["a bad token, a good header", [["Authorization", `Basic ${GOOD}`]], `auth_token=${BAD}`],
      [
        "a good token, a bad header",
        [["Authorization", `Basic ${BAD}`]],
        `auth_token=${encodeURIComponent(GOOD)}`,
      ],
      ["an empty token, a good header", [["Authorization", `Basic ${GOOD}`]], "auth_token="],
    ];
    let letIn = 0;
    for (const [what, headers, query] of cases) {
      const q = query ? `?${query}` : "";
      const [direct, viaShim] = await both(request("GET", `/session${q}`, headers));
      expect(shape(viaShim), `GET /session with ${what}`).toEqual(shape(direct));
      if (direct.status === 200) letIn++;
      const [directStream, shimStream] = await both(request("GET", `/event${q}`, headers));
      expect(shape(shimStream), `GET /event with ${what}`).toEqual(shape(directStream));
      // The shim's own routes are guarded as opencode guards any of its own.
      const [health, metrics] = await Promise.all([
        exchange(e2e.opencode.url, request("GET", `/global/health${q}`, headers)),
        exchange(e2e.shim.url, request("GET", `/shim/metrics${q}`, headers)),
      ]);
      expect([metrics.status, metrics.headers["www-authenticate"]], `/shim/metrics with ${what}`).toEqual([
        health.status,
        health.headers["www-authenticate"],
      ]);
    }
    // Both outcomes were seen: the cases tell apart what opencode lets in and what it refuses.
    expect(letIn).toBeGreaterThan(3);
    expect(letIn).toBeLessThan(cases.length - 3);
  });

  it("refuses a caller without credentials before anything else, as opencode does", async () => {
    const targets = [
      ["GET", "//x"],
      ["GET", "/a/../session"],
      ["GET", "/%2e%2e/session"],
      ["GET", "/event?directory=%ff"],
      ["GET", "/EVENT"],
      ["GET", "//event/"],
      ["GET", "/global/event"],
      ["GET", "http://example.com/session"],
      ["DELETE", "/session/ses_nope"],
      ["GET", "/shim/nothing-here"],
    ];
    for (const [method, target] of targets) {
      const [direct, viaShim] = await both(request(method ?? "GET", target ?? "/"));
      expect(shape(viaShim), `${method} ${target}`).toEqual(shape(direct));
      expect(viaShim.headers["content-length"], `${method} ${target}`).toBe(direct.headers["content-length"]);
    }
  });

  it("routes odd targets as opencode routes them", async () => {
    const authorization: Header[] = [["Authorization", `Basic ${GOOD}`]];
    for (const target of [
      "//x",
      "//session",
      "/session/",
      "/SESSION",
      "http://example.com/session",
      "/EVENT",
      "//event",
    ]) {
      const [direct, viaShim] = await both(request("GET", target, authorization));
      expect(shape(viaShim), target).toEqual(shape(direct));
    }
    // curl --http2 asks every request to switch to h2c: answered as a plain one.
    const h2c: Header[] = [
      ["Connection", "Upgrade, HTTP2-Settings"],
      ["Upgrade", "h2c"],
      ["HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"],
    ];
    for (const target of ["/session", "/event"]) {
      const [direct, viaShim] = await both(request("GET", target, [...h2c, ...authorization]));
      expect(shape(viaShim), `h2c ${target}`).toEqual(shape(direct));
    }
    // `*` is no path: opencode writes a bare 400 and closes, with or without credentials.
    for (const bytes of [request("OPTIONS", "*"), request("GET", "*", authorization)]) {
      const [direct, viaShim] = await both(bytes);
      expect(viaShim.text).toBe(direct.text);
      expect([viaShim.closed, direct.closed]).toEqual([true, true]);
    }
  });

  it("answers Expect: 100-continue as opencode does", async () => {
    const authorization: Header[] = [["Authorization", `Basic ${GOOD}`]];
    const post = (headers: Header[]) =>
      `POST /session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${headers
        .map(([n, v]) => `${n}: ${v}\r\n`)
        .join("")}\r\n`;
    // The body only once `100 Continue` came, as curl sends a big prompt.
    const [direct, viaShim] = await both(post([["Expect", "100-continue"], ...authorization]), {
      afterContinue: "{}",
    });
    expect(direct.interim).toEqual([100]);
    expect(shape(viaShim)).toEqual(shape(direct));
    // Without credentials: `100 Continue`, then the 401 without waiting for the body.
    const [directRefused, shimRefused] = await both(post([["Expect", "100-continue"]]));
    expect(shape(shimRefused)).toEqual(shape(directRefused));
    for (const expectation of ["100-CONTINUE", "something-else"]) {
      const [direct417, shim417] = await both(post([["Expect", expectation], ...authorization]));
      expect(shape(shim417), expectation).toEqual(shape(direct417));
    }
  });

  it("lets a client go whose headers do not come in time, as opencode does, and says nothing", async () => {
    const started = Date.now();
    const [direct, viaShim] = await both("GET /session HTTP/1.1\r\nHost: localhost\r\n", { waitMs: 20_000 });
    expect(direct.closed).toBe(true);
    expect(viaShim.closed).toBe(true);
    expect(viaShim.text).toBe(direct.text);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("builds paging links from the Host the client named, as opencode does", async () => {
    const headers = { authorization: `Basic ${GOOD}` };
    const session = await createSession(e2e.opencode.url, { headers });
    await prompt(e2e.opencode.url, session.id, "say hello", { headers });
    const target = `/session/${session.id}/message?limit=1`;
    for (const hosts of [
      ["Example.COM:8080"],
      ["example.com:80"],
      ["evil.com/path?"],
      ["first.example", "last.example"],
    ]) {
      const bytes = `GET ${target} HTTP/1.1\r\n${hosts.map((host) => `Host: ${host}\r\n`).join("")}Authorization: Basic ${GOOD}\r\n\r\n`;
      const [direct, viaShim] = await both(bytes);
      expect(direct.headers.link, hosts.join(" + ")).toBeDefined();
      expect(viaShim.headers.link, hosts.join(" + ")).toBe(direct.headers.link);
    }
  });

  describe("a terminal's WebSocket", () => {
    const upgrade = (target: string, headers: Header[] = []) =>
      request("GET", target, [
        ["Connection", "Upgrade"],
        ["Upgrade", "websocket"],
        ["Sec-WebSocket-Version", "13"],
        ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
        ...headers,
      ]);
    const authorization: Header[] = [["Authorization", `Basic ${GOOD}`]];

    async function openPty(): Promise<string> {
      const created = await fetch(`${e2e.opencode.url}/pty`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Basic ${GOOD}` },
        body: JSON.stringify({ command: "/bin/sh" }),
      });
      expect(created.status).toBe(200);
      return ((await created.json()) as { id: string }).id;
    }

    /** A ticket for the PTY, asked for as opencode's web app asks (through `base`). */
    async function ticketFor(base: string, id: string): Promise<string> {
      const answer = await fetch(`${base}/pty/${id}/connect-token`, {
        method: "POST",
        headers: { authorization: `Basic ${GOOD}`, "x-opencode-ticket": "1" },
      });
      expect(answer.status).toBe(200);
      return ((await answer.json()) as { ticket: string }).ticket;
    }

    it("opens with a ticket and no credentials, as opencode's web app opens it; a spent or bogus ticket is refused as opencode refuses it", async () => {
      const id = await openPty();
      const ticket = await ticketFor(e2e.shim.url, id);
      await shellAnswers(`${e2e.shim.url.replace("http", "ws")}/pty/${id}/connect?ticket=${ticket}`);
      const spentDirect = await ticketFor(e2e.opencode.url, id);
      const opened = await exchange(e2e.opencode.url, upgrade(`/pty/${id}/connect?ticket=${spentDirect}`));
      expect(opened.status).toBe(101);
      const [direct, viaShim] = await Promise.all([
        exchange(e2e.opencode.url, upgrade(`/pty/${id}/connect?ticket=${spentDirect}`)),
        exchange(e2e.shim.url, upgrade(`/pty/${id}/connect?ticket=${ticket}`)),
      ]);
      expect(direct.status).toBe(403);
      expect(shape(viaShim)).toEqual(shape(direct));
      const [directBogus, shimBogus] = await both(upgrade(`/pty/${id}/connect?ticket=not-a-ticket`));
      expect(shape(shimBogus)).toEqual(shape(directBogus));
    });

    it("answers a PTY that is not there, and repeated credentials, as opencode does", async () => {
      const [directMissing, shimMissing] = await both(upgrade("/pty/pty_nothere/connect", authorization));
      expect(directMissing.status).toBe(404);
      expect(shape(shimMissing)).toEqual(shape(directMissing));
      const id = await openPty();
      const twice = (first: string, last: string): Header[] => [
        ["Authorization", `Basic ${first}`],
        ["Authorization", `Basic ${last}`],
      ];
      for (const headers of [twice(GOOD, BAD), twice(BAD, GOOD), []]) {
        const [direct, viaShim] = await both(upgrade(`/pty/${id}/connect`, headers));
        expect(shape(viaShim), JSON.stringify(headers)).toEqual(shape(direct));
      }
    });
  });
});
