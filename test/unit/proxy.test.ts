import { request as httpRequest } from "node:http";
import { connect as netConnect } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { fakeEvent } from "../../fixtures/fake-upstream.js";
import { exchange } from "../helpers/raw-http.js";
import { shimPerTest } from "../helpers/shim-per-test.js";
import { eventually } from "../helpers/wait.js";

const harness = shimPerTest();
/** A shim in front of an upstream that wants a password, told the password. */
const withPassword = { upstream: { password: "pw" }, env: { OPENCODE_SERVER_PASSWORD: "pw" } };

describe("passthrough", () => {
  it("forwards method, path, query, headers and body untouched", async () => {
    const { shim } = await harness.start();
    const response = await fetch(`${shim.url}/echo/a%20b/c?directory=${encodeURIComponent("/x/y")}&n=1&n=2`, {
      method: "PATCH",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer abc",
        "x-opencode-directory": "%2Fsrv%2Fp",
        cookie: "a=1",
        "x-custom": "yes",
      },
      body: JSON.stringify({ title: "renamed" }),
    });
    expect(response.status).toBe(200);
    const echo = (await response.json()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: unknown;
    };
    expect(echo.method).toBe("PATCH");
    expect(echo.url).toBe("/echo/a%20b/c?directory=%2Fx%2Fy&n=1&n=2");
    expect(echo.headers).toMatchObject({
      authorization: "Bearer abc",
      "x-opencode-directory": "%2Fsrv%2Fp",
      cookie: "a=1",
      "x-custom": "yes",
      "content-type": "application/json",
    });
    expect(echo.body).toEqual({ title: "renamed" });
  });

  it("passes upstream's status and headers back, 401 challenges included", async () => {
    const { shim } = await harness.start(withPassword);
    const refused = await fetch(`${shim.url}/session`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Basic realm="Secure Area"');
    const allowed = await fetch(`${shim.url}/echo/x`, {
      headers: { authorization: `Basic ${Buffer.from("opencode:pw").toString("base64")}` },
    });
    expect(allowed.status).toBe(200);
  });

  it("streams a body as it comes instead of buffering it", async () => {
    const { shim, upstream } = await harness.start();
    const response = await fetch(`${shim.url}/hold`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    // Upstream is still holding the rest back: what arrived was streamed, not buffered.
    expect(new TextDecoder().decode(first.value)).toBe("first\n");
    upstream.releaseHolds();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe("last\n");
  });

  it("streams upstream's /global/event through, frame by frame", async () => {
    const { upstream } = await harness.start();
    const client = await harness.open("/global/event");
    await client.waitFor(
      (event) => (event.json.payload as { type?: string } | undefined)?.type === "server.connected",
    );
    const payload = fakeEvent("session.idle", { sessionID: "ses_1" });
    upstream.emit({ directory: upstream.cwd, payload });
    const received = await client.waitFor(
      (event) => (event.json.payload as { id?: string } | undefined)?.id === payload.id,
    );
    expect(received.json).toEqual({ directory: upstream.cwd, payload });
    expect(client.isEnded).toBe(false);
  });

  it("proxies WebSocket upgrades with the client's credentials, directory and query", async () => {
    const { shim } = await harness.start(withPassword);
    const socket = new WebSocket(`${shim.url.replace("http", "ws")}/pty/pty_1/connect?cursor=0`, {
      headers: {
        authorization: `Basic ${Buffer.from("opencode:pw").toString("base64")}`,
        "x-opencode-directory": "%2Fsrv%2Fp",
      },
    });
    harness.afterTest(() => socket.terminate());
    const messages: string[] = [];
    const got = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => (messages.length >= count ? resolve() : undefined);
        socket.on("message", (data) => {
          messages.push(data.toString());
          check();
        });
        socket.on("error", reject);
        check();
      });
    const hello = got(1);
    await hello;
    expect(JSON.parse(messages[0] ?? "{}")).toEqual({
      hello: "/pty/pty_1/connect",
      query: "?cursor=0",
      directory: "%2Fsrv%2Fp",
    });
    const echoed = got(2);
    socket.send("ls -la\n");
    await echoed;
    expect(messages[1]).toBe("echo:ls -la\n");
  });

  it("answers a WebSocket upgrade upstream would refuse with upstream's own refusal", async () => {
    const { shim } = await harness.start(withPassword);
    const socket = new WebSocket(`${shim.url.replace("http", "ws")}/pty/pty_1/connect`);
    harness.afterTest(() => socket.terminate());
    const outcome = await new Promise<string>((resolve) => {
      socket.once("open", () => resolve("open"));
      socket.once("unexpected-response", (_request, response) =>
        resolve(`${response.statusCode} ${response.headers["www-authenticate"]}`),
      );
      socket.once("error", (error) => resolve(`error ${error.message}`));
    });
    expect(outcome).toBe('401 Basic realm="Secure Area"');
  });

  it("never connects anywhere but upstream, whatever the Host header or request line says", async () => {
    const { shim, upstream } = await harness.start();
    const port = Number(new URL(shim.url).port);
    const viaHost = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        { host: "127.0.0.1", port, path: "/echo/host", headers: { host: "evil.example:80" } },
        (response) => {
          let body = "";
          response.on("data", (chunk) => {
            body += chunk;
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on("error", reject);
      request.end();
    });
    expect(viaHost.status).toBe(200);
    // Upstream is told the Host the client named, as it would be told direct.
    expect(JSON.parse(viaHost.body).headers.host).toBe("evil.example:80");

    // Absolute-form request lines (as sent to a forward proxy) are routed by their path, as
    // opencode routes them: to upstream, and only there.
    const absolute = (target: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = netConnect(port, "127.0.0.1", () => {
          socket.write(`GET ${target} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`);
        });
        let text = "";
        socket.on("data", (chunk) => {
          text += chunk;
        });
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
      });
    for (const target of ["http://evil.example/echo/x", "http://127.0.0.1:1/echo/y?z=1"]) {
      const answer = await absolute(target);
      expect(answer.split(" ")[1], target).toBe("200");
      const echoed = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      expect(echoed.url, target).toBe(new URL(target).pathname + new URL(target).search);
    }
    expect(upstream.requests.filter((line) => line.startsWith("GET /echo/")).length).toBe(3);
  });

  it("answers 502 with a JSON body when upstream is gone", async () => {
    const { shim } = await harness.start();
    await harness.stopUpstream();
    const response = await fetch(`${shim.url}/session`);
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: "upstream_unavailable" });
  });
  it("with upstream gone, names it to nobody opencode would not let in: opencode's 401 to them, the 502 to the rest", async () => {
    const { shim } = await harness.start(withPassword);
    await harness.stopUpstream();
    const good = { authorization: `Basic ${Buffer.from("opencode:pw").toString("base64")}` };
    for (const path of ["/session", "/event", "/global/event", "/a/../session", "//x"]) {
      const refused = await fetch(`${shim.url}${path}`);
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get("www-authenticate"), path).toBe('Basic realm="Secure Area"');
      expect(await refused.text(), path).toBe("");
    }
    const unavailable = await fetch(`${shim.url}/session`, { headers: good });
    expect(unavailable.status).toBe(502);
    expect(await unavailable.json()).toMatchObject({ error: "upstream_unavailable" });

    const handshake = (headers: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(`${shim.url.replace("http", "ws")}/pty/pty_1/connect`, { headers });
        harness.afterTest(() => socket.terminate());
        socket.once("open", () => resolve("open"));
        socket.once("unexpected-response", (_request, response) => {
          let body = "";
          response.on("data", (chunk: Buffer) => {
            body += chunk;
          });
          response.on("end", () => resolve(`${response.statusCode} ${body}`));
        });
        socket.once("error", (error) => resolve(`error ${error.message}`));
      });
    expect(await handshake({})).toBe("401 ");
    expect(await handshake(good)).toMatch(/^502 .*upstream_unavailable/);
  });

  it("given a password opencode does not have, lets clients in as opencode does", async () => {
    const { shim } = await harness.start({ env: { OPENCODE_SERVER_PASSWORD: "pw" } });
    expect((await fetch(`${shim.url}/echo/x`)).status).toBe(200);
    expect((await fetch(`${shim.url}/shim/metrics`)).status).toBe(200);
  });

  it("answers a request asking for another upgrade (curl --http2 asks for h2c) as a plain one, streams included", async () => {
    const { shim } = await harness.start();
    const h2c = (target: string) =>
      exchange(
        shim.url,
        `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
      );
    const plain = await h2c("/echo/x");
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body)).toMatchObject({ method: "GET", url: "/echo/x" });
    const stream = await h2c("/event");
    expect(stream.status).toBe(200);
    expect(stream.headers["content-type"]).toMatch(/^text\/event-stream/);
    // That client has gone: events written to its socket meanwhile throw nothing, and it is let go.
    const { upstream } = harness;
    await eventually(
      () => {
        upstream.emit({
          directory: upstream.cwd,
          payload: fakeEvent("session.updated", { info: { id: "ses_1" } }),
        });
        return shim.hub.subscriberTotal === 0;
      },
      5000,
      "the gone client let go",
    );
    expect((await fetch(`${shim.url}/echo/after`)).status).toBe(200);
  });

  it("passes a path with dot segments on as it came, body and all (opencode's router does not resolve them)", async () => {
    const { shim } = await harness.start();
    const got = await exchange(shim.url, "GET /echo/%2e%2e/y?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toMatchObject({ method: "GET", url: "/echo/%2e%2e/y?q=1" });
    const posted = await exchange(
      shim.url,
      'POST /echo/./p HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}',
    );
    expect(posted.status).toBe(200);
    expect(JSON.parse(posted.body)).toMatchObject({ method: "POST", url: "/echo/./p", body: { a: 1 } });
    const missing = await exchange(shim.url, "GET /a/../echo/x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(missing.status).toBe(404); // the fake upstream's own answer: its router does not resolve `..` either
  });
});

describe("paging links", () => {
  it("points opencode's absolute Link headers back at the shim", async () => {
    const { shim } = await harness.start();
    const response = await fetch(`${shim.url}/paged`);
    expect(response.headers.get("link")).toBe(`<${shim.url}/paged?limit=2&before=abc>; rel="next"`);
    expect(response.headers.get("x-next-cursor")).toBe("abc");
  });
});
