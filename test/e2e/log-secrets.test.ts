import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { e2eSetup } from "../helpers/e2e.js";
import { exchange } from "../helpers/raw-http.js";
import { startShimProcess } from "../helpers/shim-process.js";

const PASSWORD = "log-me-not-7";
const b64 = (text: string) => Buffer.from(text).toString("base64");
const GOOD = b64(`opencode:${PASSWORD}`);
const WRONG = b64("opencode:wrong-but-secret-too");

/** The shim as a user runs it, at `trace`, everything it logs kept; killed by PID after the test. */
async function runShim(e2e: ReturnType<typeof e2eSetup>, format: "json" | "pretty") {
  const shim = await startShimProcess(
    ["--upstream", e2e.opencode.url, "--port", "0", "--log-level", "trace", "--log-format", format],
    { env: { ...process.env, OPENCODE_SERVER_PASSWORD: PASSWORD } },
  );
  e2e.afterTest(() => shim.kill());
  return shim;
}

/** A WebSocket handshake through `url`, to its end (opened, or refused). */
function handshake(url: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.once("open", () => {
      socket.terminate();
      resolve();
    });
    socket.once("unexpected-response", () => resolve());
    socket.once("error", () => resolve());
  });
}

describe("credentials never reach the shim's log, at any level (opencode 1.14.48 with a password)", () => {
  const e2e = e2eSetup({ version: "1.14.48", password: PASSWORD });

  for (const format of ["json", "pretty"] as const) {
    it(`writes none at --log-level trace (${format}), however a client spells them, and one short line for a refused request`, async () => {
      const shim = await runShim(e2e, format);
      const created = await fetch(`${e2e.opencode.url}/pty`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Basic ${GOOD}` },
        body: JSON.stringify({ command: "/bin/sh" }),
      });
      const { id } = (await created.json()) as { id: string };
      const ticketAnswer = await fetch(`${shim.url}/pty/${id}/connect-token`, {
        method: "POST",
        headers: { authorization: `Basic ${GOOD}`, "x-opencode-ticket": "1" },
      });
      const { ticket } = (await ticketAnswer.json()) as { ticket: string };
      const secrets = [PASSWORD, GOOD, encodeURIComponent(GOOD), WRONG, encodeURIComponent(WRONG), ticket];

      for (const name of ["auth_token", "%61uth_token", "auth%5Ftoken", "AUTH_TOKEN", "Auth_Token"]) {
        for (const token of [GOOD, WRONG]) {
          const query = `?${name}=${encodeURIComponent(token)}`;
          await fetch(`${shim.url}/session${query}`);
          await fetch(`${shim.url}/shim/metrics${query}`);
          const stream = await exchange(shim.url, `GET /event${query} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
          expect(stream.status).toBeGreaterThan(0);
        }
      }
      for (const token of [GOOD, WRONG]) {
        await fetch(`${shim.url}/session`, { headers: { authorization: `Basic ${token}` } });
        await fetch(`${shim.url}/session`, { headers: { "proxy-authorization": `Basic ${token}` } });
        await handshake(
          `${shim.url.replace("http", "ws")}/pty/${id}/connect?auth_token=${encodeURIComponent(token)}`,
        );
      }
      await handshake(`${shim.url.replace("http", "ws")}/pty/${id}/connect?ticket=${ticket}`);
      for (const target of [
        "/a/../session?marker=refused-1",
        "//x?marker=refused-2",
        "/event?marker=refused-3",
      ]) {
        const refused = await exchange(shim.url, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        expect(refused.status, target).toBe(401);
      }

      const logs = await shim.stop();
      expect(logs).toContain("request answered");
      for (const secret of secrets) expect(logs.includes(secret), `the log holds ${secret}`).toBe(false);
      for (const marker of ["refused-1", "refused-2", "refused-3"]) {
        const lines = logs.split("\n").filter((line) => line.includes(marker));
        expect(lines.length, marker).toBeLessThanOrEqual(1);
        expect(lines.join("").length, marker).toBeLessThan(400);
      }
      expect(logs).not.toMatch(/"stack"|\n\s+at /);
    });
  }
});
