import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, fakeEvent, startFakeUpstream } from "../../fixtures/fake-upstream.js";
import type { Shim } from "../../src/app.js";
import { launchChromium } from "../helpers/chromium.js";
import { startTestShim } from "../helpers/shim.js";

/** A name that is no localhost, served from this machine: the origin opencode would not allow. */
const EVIL = ["--host-resolver-rules=MAP evil.test 127.0.0.1"];
const WAIT = { timeout: 20_000 };

/** What the page-side code below uses of the browser (the project's type check has no DOM library). */
interface BrowserGlobals {
  fetch: typeof fetch;
  EventSource: new (
    url: string,
  ) => {
    readyState: number;
    onopen: (() => void) | null;
    onmessage: ((message: { data: string }) => void) | null;
    onerror: (() => void) | null;
    close(): void;
  };
  streams: Record<string, { state: string; messages: string[] }>;
}

/** Runs `fetch(url, {headers})` in the page: its status and JSON body, or the error it failed with. */
function fetchInPage(page: Page, url: string, headers: Record<string, string> = {}) {
  return page.evaluate(
    async ({ url, headers }) => {
      const browser = globalThis as unknown as BrowserGlobals;
      try {
        const response = await browser.fetch(url, { headers });
        return { status: response.status, body: (await response.json()) as { status?: string } };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { url, headers },
  );
}

/** Runs `fetch(url, {headers})` in the page on a stream: its status and first chunk of text, or the error. */
function fetchStreamStartInPage(page: Page, url: string, headers: Record<string, string>) {
  return page.evaluate(
    async ({ url, headers }) => {
      const browser = globalThis as unknown as BrowserGlobals;
      try {
        const response = await browser.fetch(url, { headers });
        const reader = response.body?.getReader();
        const first = await reader?.read();
        await reader?.cancel();
        return { status: response.status, text: new TextDecoder().decode(first?.value) };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { url, headers },
  );
}

/** A preflight for `path` from Node, as a browser sends it before a request with custom headers. */
function preflightFor(base: string, path: string, origin: string) {
  return fetch(`${base}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "GET",
      "access-control-request-headers": "x-opencode-directory",
    },
  });
}

/** The page reads `url` with fetch and a custom header, which the browser preflights first. */
async function expectPreflightedStreamRead(page: Page, url: string, directory: string) {
  const started = await fetchStreamStartInPage(page, url, { "x-opencode-directory": directory });
  expect(started).toMatchObject({ status: 200 });
  expect(started.text).toContain('"server.connected"');
}

/** `origin`'s preflight for `path` is answered, allowing it and the header it asked for. */
async function expectPreflightAllowed(base: string, path: string, origin: string) {
  const answer = await preflightFor(base, path, origin);
  expect(answer.status, path).toBe(204);
  expect(answer.headers.get("access-control-allow-origin"), path).toBe(origin);
  expect(answer.headers.get("access-control-allow-headers"), path).toBe("x-opencode-directory");
}

/** Opens an EventSource in the page, recorded in `streams[name]` (its state, the data of each message). */
async function openEventSource(page: Page, name: string, url: string): Promise<void> {
  await page.evaluate(
    ({ name, url }) => {
      const browser = globalThis as unknown as BrowserGlobals;
      browser.streams ??= {};
      const record = { state: "connecting", messages: [] as string[] };
      browser.streams[name] = record;
      const stream = new browser.EventSource(url);
      stream.onopen = () => {
        record.state = "open";
      };
      stream.onmessage = (message) => {
        record.messages.push(message.data);
      };
      stream.onerror = () => {
        // CLOSED (2): the browser gave up on it — for a CORS refusal, at once and for good.
        if (stream.readyState === 2) record.state = "failed";
      };
    },
    { name, url },
  );
}

function waitForStream(page: Page, name: string, state: string, containing = "") {
  return page.waitForFunction(
    ({ name, state, containing }) => {
      const record = (globalThis as unknown as BrowserGlobals).streams?.[name];
      return record?.state === state && record.messages.some((data) => data.includes(containing));
    },
    { name, state, containing },
    WAIT,
  );
}

function streamMessages(page: Page, name: string): Promise<string[]> {
  return page.evaluate(
    (name) => (globalThis as unknown as BrowserGlobals).streams[name]?.messages ?? [],
    name,
  );
}

/** `origin`'s request for `path`, from Node: the answer's Access-Control-Allow-Origin (the body is not read). */
async function allowOriginFor(base: string, path: string, origin: string): Promise<string | null> {
  const abort = new AbortController();
  const response = await fetch(`${base}${path}`, { headers: { origin }, signal: abort.signal });
  abort.abort();
  return response.headers.get("access-control-allow-origin");
}

/**
 * Browsers on other origins, in real Chromium: the shim's own routes (/shim/*, /event,
 * its rebuilt /global/event) answer them as opencode does — http://localhost:* and
 * http://127.0.0.1:* allowed, preflights answered, nothing for other origins unless
 * named with --cors.
 */
describe("cross-origin browsers (Chromium, pages on other origins)", { timeout: 120_000 }, () => {
  let upstream: FakeUpstream;
  let pages: Server;
  let port: number;
  let shim: Shim;
  let polling: Shim;
  let withCors: Shim;
  let pollingWithCors: Shim;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchChromium(EVIL);
    pages = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end("<!doctype html><title>a page on another origin</title><p>another origin</p>");
    });
    await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
    port = (pages.address() as AddressInfo).port;
    upstream = await startFakeUpstream();
    shim = await startTestShim(upstream.url);
    // With --source poll the shim serves /global/event itself.
    polling = await startTestShim(upstream.url, ["--source", "poll"]);
    withCors = await startTestShim(upstream.url, ["--cors", `http://evil.test:${port}`]);
    pollingWithCors = await startTestShim(upstream.url, [
      "--cors",
      `http://evil.test:${port}`,
      "--source",
      "poll",
    ]);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await withCors?.close();
    await pollingWithCors?.close();
    await polling?.close();
    await shim?.close();
    await upstream?.close();
    pages?.closeAllConnections();
    await new Promise((resolve) => pages?.close(resolve));
  });

  /** A fresh page at `origin`, with its console errors collected. */
  async function pageAt(origin: string) {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(`${origin}/`);
    expect(await page.textContent("p")).toBe("another origin");
    return { page, errors };
  }

  it("a page on another localhost port uses /shim/*, /event and the rebuilt /global/event", async () => {
    const origin = `http://127.0.0.1:${port}`;
    const { page, errors } = await pageAt(origin);

    const health = await fetchInPage(page, `${shim.url}/shim/health`);
    expect(health).toMatchObject({ status: 200, body: { status: "ok" } });
    // A custom header makes the browser send a preflight (OPTIONS) first.
    const preflighted = await fetchInPage(page, `${shim.url}/shim/health`, { "x-probe": "1" });
    expect(preflighted).toMatchObject({ status: 200, body: { status: "ok" } });

    await openEventSource(page, "event", `${shim.url}/event`);
    await waitForStream(page, "event", "open", '"server.connected"');
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle", { sessionID: "ses_cors" }) });
    await waitForStream(page, "event", "open", '"ses_cors"');
    const events = (await streamMessages(page, "event")).map((data) => JSON.parse(data) as { type: string });
    expect(events.map((event) => event.type)).toEqual(["server.connected", "session.idle"]);

    await openEventSource(page, "global", `${polling.url}/global/event`);
    await waitForStream(page, "global", "open", '"server.connected"');
    expect(JSON.parse((await streamMessages(page, "global"))[0] ?? "")).toMatchObject({
      payload: { type: "server.connected" },
    });
    expect(errors).toEqual([]);

    // What the browser relied on, seen from Node: the origin echoed back, the preflight answered.
    for (const [base, path] of [
      [shim.url, "/shim/health"],
      [shim.url, "/shim/"],
      [shim.url, "/event"],
      [polling.url, "/global/event"],
    ] as const) {
      expect(await allowOriginFor(base, path, origin), path).toBe(origin);
      expect(await allowOriginFor(base, path, "http://localhost:5173"), path).toBe("http://localhost:5173");
    }
    const preflight = await fetch(`${shim.url}/shim/health`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "GET",
        "access-control-request-headers": "x-probe",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);
    expect(preflight.headers.get("access-control-allow-headers")).toContain("x-probe");

    // A stream read with fetch and a custom header: the browser preflights /event first.
    await expectPreflightedStreamRead(page, `${shim.url}/event`, upstream.cwd);
    for (const [base, path] of [
      [shim.url, "/event"],
      [polling.url, "/global/event"],
    ] as const) {
      await expectPreflightAllowed(base, path, origin);
    }
    expect(errors).toEqual([]);
  });

  it("a page on an origin nobody allowed gets CORS errors, and no Access-Control-Allow-Origin", async () => {
    const origin = `http://evil.test:${port}`;
    const { page, errors } = await pageAt(origin);

    // The browser says why: CORS, not the network.
    const blocked = (path: string) =>
      page.waitForEvent("console", {
        predicate: (message) =>
          message.text().includes("has been blocked by CORS policy") &&
          message.text().includes(`${shim.url}${path}`),
        ...WAIT,
      });
    const healthBlocked = blocked("/shim/health");
    expect(await fetchInPage(page, `${shim.url}/shim/health`)).toEqual({
      error: "TypeError: Failed to fetch",
    });
    await healthBlocked;
    expect(await fetchInPage(page, `${shim.url}/shim/health`, { "x-probe": "1" })).toEqual({
      error: "TypeError: Failed to fetch",
    });
    const eventBlocked = blocked("/event");
    await openEventSource(page, "event", `${shim.url}/event`);
    await openEventSource(page, "global", `${polling.url}/global/event`);
    await page.waitForFunction(
      () => {
        const { streams } = globalThis as unknown as BrowserGlobals;
        return streams.event?.state === "failed" && streams.global?.state === "failed";
      },
      undefined,
      WAIT,
    );
    await eventBlocked;
    expect(await streamMessages(page, "event")).toEqual([]);
    expect(await streamMessages(page, "global")).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error).toMatch(/blocked by CORS policy|net::ERR_FAILED/);

    // The shim answered, but allowed nothing: no Access-Control-Allow-Origin for that origin.
    for (const [base, path] of [
      [shim.url, "/shim/health"],
      [shim.url, "/shim/"],
      [shim.url, "/event"],
      [polling.url, "/global/event"],
    ] as const) {
      expect(await allowOriginFor(base, path, origin), path).toBeNull();
      expect(await allowOriginFor(base, path, "http://evil.test:1234"), path).toBeNull();
    }
    const preflight = await fetch(`${shim.url}/shim/health`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "GET",
        "access-control-request-headers": "x-probe",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    for (const [base, path] of [
      [shim.url, "/event"],
      [polling.url, "/global/event"],
    ] as const) {
      expect(
        (await preflightFor(base, path, origin)).headers.get("access-control-allow-origin"),
        path,
      ).toBeNull();
    }
    // The shim's own refusals say nothing to that origin either.
    const refused = await fetch(`${shim.url}/event?directory=${"x".repeat(5000)}`, { headers: { origin } });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("with --cors naming that origin, the page on it may use /shim/*, /event and the rebuilt /global/event", async () => {
    const origin = `http://evil.test:${port}`;
    const { page, errors } = await pageAt(origin);

    expect(await fetchInPage(page, `${withCors.url}/shim/health`)).toMatchObject({
      status: 200,
      body: { status: "ok" },
    });
    expect(await fetchInPage(page, `${withCors.url}/shim/health`, { "x-probe": "1" })).toMatchObject({
      status: 200,
      body: { status: "ok" },
    });
    expect(errors).toEqual([]);
    expect(await allowOriginFor(withCors.url, "/shim/health", origin)).toBe(origin);
    expect(await allowOriginFor(withCors.url, "/shim/", origin)).toBe(origin);
    // Only the origins named: another port of the same host is still refused.
    expect(await allowOriginFor(withCors.url, "/shim/health", "http://evil.test:1234")).toBeNull();

    // The streams, though upstream itself does not allow this origin.
    expect(await allowOriginFor(upstream.url, "/path", origin)).toBeNull();
    await openEventSource(page, "event", `${withCors.url}/event`);
    await openEventSource(page, "global", `${pollingWithCors.url}/global/event`);
    await waitForStream(page, "event", "open", '"server.connected"');
    await waitForStream(page, "global", "open", '"server.connected"');
    upstream.emit({
      directory: upstream.cwd,
      payload: fakeEvent("session.idle", { sessionID: "ses_named" }),
    });
    await waitForStream(page, "event", "open", '"ses_named"');
    await expectPreflightedStreamRead(page, `${withCors.url}/event`, upstream.cwd);
    for (const [base, path] of [
      [withCors.url, "/event"],
      [pollingWithCors.url, "/global/event"],
    ] as const) {
      expect(await allowOriginFor(base, path, origin), path).toBe(origin);
      expect(await allowOriginFor(base, path, "http://evil.test:1234"), path).toBeNull();
      await expectPreflightAllowed(base, path, origin);
      expect(
        (await preflightFor(base, path, "http://evil.test:1234")).headers.get("access-control-allow-origin"),
      ).toBeNull();
    }
    // The shim's own refusals are readable by that page too.
    const refused = await fetch(`${withCors.url}/event?directory=${"x".repeat(5000)}`, {
      headers: { origin },
    });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("access-control-allow-origin")).toBe(origin);
    expect(errors).toEqual([]);
  });
});
