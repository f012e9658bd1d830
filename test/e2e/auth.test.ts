import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { e2eSetup } from "../helpers/e2e.js";
import { shellAnswers } from "../helpers/pty.js";
import { props } from "../helpers/session-events.js";

const PASSWORD = "correct horse battery";
const token = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");
const basic = (user: string, password: string) => ({ authorization: `Basic ${token(user, password)}` });
const GOOD = basic("opencode", PASSWORD);

/** opencode 1.14.48 with OPENCODE_SERVER_PASSWORD, and the shim in front with the same variable. */
describe("a password-protected opencode 1.14.48 through the shim", () => {
  const e2e = e2eSetup({ version: "1.14.48", password: PASSWORD, shim: true });

  const open = (base: string, path: string, headers: Record<string, string> = {}) =>
    e2e.open(`${base}${path}`, headers);

  it("answers /event 401 exactly when upstream would", async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ["/event", {}],
      ["/event", basic("opencode", "wrong")],
      ["/event", basic("someone", PASSWORD)],
      [`/event?auth_token=${encodeURIComponent(token("opencode", "wrong"))}`, {}],
      ["/event", GOOD],
      [`/event?auth_token=${encodeURIComponent(token("opencode", PASSWORD))}`, {}],
    ];
    for (const [path, headers] of cases) {
      const direct = await open(e2e.opencode.url, path, headers);
      const viaShim = await open(e2e.shim.url, path, headers);
      expect(viaShim.status, `${path} ${JSON.stringify(headers)}`).toBe(direct.status);
      expect(viaShim.headers["www-authenticate"]).toBe(direct.headers["www-authenticate"]);
      direct.close();
      viaShim.close();
    }
  });

  it("answers a session's streams 401 exactly when upstream would, and follows it with the client's credentials", async () => {
    const session = await createSession(e2e.shim.url, { headers: GOOD });
    const sse = { accept: "text/event-stream" };
    const wrong = basic("opencode", "wrong");
    for (const path of [`/event?session=${session.id}`, `/session/${session.id}/event`]) {
      for (const headers of [sse, { ...sse, ...wrong }]) {
        const direct = await open(e2e.opencode.url, path, headers);
        const viaShim = await open(e2e.shim.url, path, headers);
        expect(viaShim.status, `${path} ${JSON.stringify(headers)}`).toBe(direct.status);
        expect(viaShim.status).toBe(401);
        expect(viaShim.headers["www-authenticate"]).toBe(direct.headers["www-authenticate"]);
      }
      const goodToken = `auth_token=${encodeURIComponent(token("opencode", PASSWORD))}`;
      for (const [url, headers] of [
        [path, { ...sse, ...GOOD }],
        [`${path}${path.includes("?") ? "&" : "?"}${goodToken}`, sse],
      ] as const) {
        const client = await open(e2e.shim.url, url, headers);
        expect(client.status, url).toBe(200);
        await client.waitFor((event) => event.json.type === "server.connected");
      }
    }
  });

  it("streams a prompt to an authenticated client", async () => {
    const client = await open(e2e.shim.url, "/event", GOOD);
    expect(client.status).toBe(200);
    await client.waitFor((event) => event.json.type === "server.connected");
    const session = await createSession(e2e.shim.url, { headers: GOOD });
    await prompt(e2e.shim.url, session.id, "say hello", { headers: GOOD });
    await client.waitFor(
      (event) => event.json.type === "session.idle" && props(event).sessionID === session.id,
      60_000,
    );
  });

  it("passes REST, /global/event and WebSocket refusals and grants through", async () => {
    expect((await fetch(`${e2e.shim.url}/session`)).status).toBe(401);
    expect((await fetch(`${e2e.shim.url}/session`, { headers: GOOD })).status).toBe(200);
    const goodToken = `auth_token=${encodeURIComponent(token("opencode", PASSWORD))}`;
    const badToken = `auth_token=${encodeURIComponent(token("opencode", "wrong"))}`;
    expect((await fetch(`${e2e.shim.url}/session?${goodToken}`)).status).toBe(200);
    expect((await fetch(`${e2e.shim.url}/session?${badToken}`)).status).toBe(401);
    const global = await open(e2e.shim.url, "/global/event");
    expect(global.status).toBe(401);

    const created = await fetch(`${e2e.shim.url}/pty`, {
      method: "POST",
      headers: { "content-type": "application/json", ...GOOD },
      body: JSON.stringify({ command: "/bin/sh" }),
    });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    const wsUrl = `${e2e.shim.url.replace("http", "ws")}/pty/${id}/connect`;

    const handshake = (url: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url);
        e2e.afterTest(() => socket.terminate());
        socket.once("open", () => resolve("open"));
        socket.once("unexpected-response", (_request, response) => resolve(`refused ${response.statusCode}`));
        socket.once("error", (error) => resolve(`error ${error.message}`));
      });
    const direct = await handshake(`${e2e.opencode.url.replace("http", "ws")}/pty/${id}/connect`);
    expect(direct).toBe("refused 401");
    expect(await handshake(wsUrl)).toBe(direct);

    await shellAnswers(wsUrl, GOOD);
  });

  it.each([
    ["behind upstream's stream", []],
    ["poll mode", ["--source", "poll"]],
  ])("guards the shim's own /global/event (%s) exactly as upstream guards its own", async (_mode, flags) => {
    const polling = await e2e.startShim({ flags });
    const cases: Array<[string, Record<string, string>]> = [
      ["/global/event", {}],
      ["/global/event", basic("opencode", "wrong")],
      [`/global/event?auth_token=${encodeURIComponent(token("opencode", "wrong"))}`, {}],
      ["/global/event", GOOD],
      [`/global/event?auth_token=${encodeURIComponent(token("opencode", PASSWORD))}`, {}],
    ];
    for (const [path, headers] of cases) {
      const direct = await open(e2e.opencode.url, path, headers);
      const viaShim = await open(polling.url, path, headers);
      expect(viaShim.status, `${path} ${JSON.stringify(headers)}`).toBe(direct.status);
      expect(viaShim.headers["www-authenticate"]).toBe(direct.headers["www-authenticate"]);
      if (viaShim.status === 200) {
        await viaShim.waitFor(
          (event) => (event.json.payload as { type?: string } | undefined)?.type === "server.connected",
        );
      }
      direct.close();
      viaShim.close();
    }
  });

  it("guards /shim/ and /shim/metrics as opencode guards its own routes, and tells /shim/health's details only to the authenticated", async () => {
    const credentials: Array<[string, Record<string, string>, string]> = [
      ["none", {}, ""],
      ["a wrong password", basic("opencode", "wrong"), ""],
      ["another user", basic("someone", PASSWORD), ""],
      ["a wrong auth_token", {}, `?auth_token=${encodeURIComponent(token("opencode", "wrong"))}`],
      ["the password", GOOD, ""],
      ["the auth_token", {}, `?auth_token=${encodeURIComponent(token("opencode", PASSWORD))}`],
    ];
    for (const [what, headers, query] of credentials) {
      // opencode's own answer to the same credentials, beside the shim's for each of its routes.
      const direct = await fetch(`${e2e.opencode.url}/global/health${query}`, { headers });
      const allowed = direct.status === 200;
      const directBody = await direct.text();
      for (const path of ["/shim/", "/shim/metrics"]) {
        const response = await fetch(`${e2e.shim.url}${path}${query}`, { headers });
        expect(response.status, `${path} with ${what}`).toBe(direct.status);
        expect(response.headers.get("www-authenticate"), `${path} with ${what}`).toBe(
          direct.headers.get("www-authenticate"),
        );
        // opencode's 401 has no body: neither has the shim's.
        if (!allowed) expect(await response.text(), `${path} with ${what}`).toBe(directBody);
      }
      const health = await fetch(`${e2e.shim.url}/shim/health${query}`, { headers });
      expect(health.status, `/shim/health with ${what}`).toBe(200);
      const body = (await health.json()) as Record<string, unknown>;
      if (allowed) {
        expect(body).toMatchObject({
          status: "ok",
          upstream: { version: "1.14.48" },
          source: { mode: "auto" },
        });
      } else {
        expect(body, `/shim/health with ${what}: the status word only`).toEqual({ status: "ok" });
      }
    }
    // What the page needs to load when opened with ?auth_token= is the same for everyone.
    expect((await fetch(`${e2e.shim.url}/shim/view.js`)).status).toBe(200);
    // A preflight needs no credentials, as opencode's needs none.
    const preflight = await fetch(`${e2e.shim.url}/shim/metrics`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization",
      },
    });
    expect(preflight.status).toBe(204);
  });
});
