import { existsSync, rmSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModelServer, replyText, startModelServer } from "../../fixtures/model-server.js";
import { type OpencodeHome, prepareOpencodeHome, recordPid } from "../../fixtures/opencode.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { type ReceivedEvent, SseClient } from "../../fixtures/sse-client.js";
import { assistantText, props, sessionEvents } from "../helpers/session-events.js";
import { type ShimProcess, startShimProcess } from "../helpers/shim-process.js";
import { eventually } from "../helpers/wait.js";

/** A browser origin opencode allows only when told (`--cors`). */
const OTHER_ORIGIN = "http://app.example.test:8080";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One command, no --upstream: the shim starts the real opencode 1.14.48 itself, follows
 * its log, restarts it when it dies, and stops it when it is stopped.
 */
describe("the shim running opencode itself", () => {
  let model: ModelServer;
  let home: OpencodeHome;
  let shim: ShimProcess;
  let url: string;
  /** The shim's log as it comes, from its first line (its opencode's PID among them). */
  let logs = "";
  const pids = new Set<number>();
  const clients: SseClient[] = [];

  /** PIDs of the opencode processes the shim said it started. */
  function opencodePids(): number[] {
    return [...logs.matchAll(/"opencodePid":(\d+)/g)].map((match) => Number(match[1]));
  }

  beforeAll(async () => {
    model = await startModelServer();
    home = prepareOpencodeHome({ modelBaseURL: model.baseURL }, "embedded");
    // As the README's `npm start` runs it: no --opencode-bin, so the shim finds opencode
    // itself — here the project's npm-installed 1.14.48, with no other opencode on PATH.
    const path = [dirname(process.execPath), "/usr/bin", "/bin"].join(delimiter);
    if (!path.split(delimiter).every((dir) => !existsSync(join(dir, "opencode")))) {
      throw new Error(`an opencode on ${path} would be started instead of the dev dependency`);
    }
    shim = await startShimProcess(["--port", "0", "--cors", OTHER_ORIGIN], {
      cwd: home.projectDir,
      env: { ...home.env, PATH: path },
      onLog: (text) => {
        logs += text;
        for (const pid of opencodePids()) {
          if (!pids.has(pid)) {
            pids.add(pid);
            recordPid(pid);
          }
        }
      },
    });
    url = shim.url;
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    shim?.kill();
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    await model?.close();
    if (home) rmSync(home.root, { recursive: true, force: true });
  });

  async function promptThrough(client: SseClient, text: string) {
    const session = await createSession(url);
    await prompt(url, session.id, text);
    await client.waitFor(
      (event) => event.json.type === "session.idle" && props(event).sessionID === session.id,
      30_000,
      "session.idle",
    );
    await client.waitUntil(
      () => assistantText(sessionEvents(client.events, session.id)).final === replyText(text),
      10_000,
      "the answer",
    );
    return session;
  }

  it("starts opencode, serves its events, and follows its log", async () => {
    expect(opencodePids()).toHaveLength(1);
    const health = (await (await fetch(`${url}/shim/health`)).json()) as { upstream: { version: string } };
    expect(health.upstream.version).toBe("1.14.48");
    expect(logs).toContain(`"file":"${home.logDir}/`);
    // The start-up line names upstream, its version and the event source, as JSON.
    const startLine = logs
      .split("\n")
      .filter((line) => line.includes('"upstreamVersion"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)[0];
    expect(startLine).toMatchObject({
      upstream: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      upstreamVersion: "1.14.48",
      source: "auto (clients fed by the stream)",
      logDir: home.logDir,
    });
    expect(startLine?.msg).toMatch(
      /^fronting opencode 1\.14\.48 at http:\/\/127\.0\.0\.1:\d+; \/event source: auto/,
    );
    // --cors reached opencode too: its REST answers that origin, through the shim.
    const rest = await fetch(`${url}/path`, { headers: { origin: OTHER_ORIGIN } });
    expect(rest.status).toBe(200);
    expect(rest.headers.get("access-control-allow-origin")).toBe(OTHER_ORIGIN);
    const refused = await fetch(`${url}/path`, { headers: { origin: "http://elsewhere.test:8080" } });
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    const client = await SseClient.connect(`${url}/event`);
    clients.push(client);
    await client.waitFor((event) => event.json.type === "server.connected");
    const session = await promptThrough(client, "say hello");
    const created = sessionEvents(client.events, session.id).find(
      (event) => event.json.type === "session.created",
    );
    expect((props(created as ReceivedEvent).info as { directory?: string }).directory).toBe(home.projectDir);
  });

  it("restarts opencode when it dies, and the same client stream goes on", async () => {
    const client = await SseClient.connect(`${url}/event`);
    clients.push(client);
    await client.waitFor((event) => event.json.type === "server.connected");
    const [first] = opencodePids();
    if (first === undefined) throw new Error("no opencode pid");
    process.kill(first, "SIGKILL");
    await eventually(() => opencodePids().length === 2, 20_000, "a restarted opencode");
    await eventually(async () => (await fetch(`${url}/shim/health`)).status === 200, 20_000, "healthy again");
    await promptThrough(client, "[chunks:3] again");
    expect(client.isEnded).toBe(false);
  });

  it("stops opencode when it is stopped, and exits 0", async () => {
    const exited = new Promise<number | null>((resolve) => shim.child.once("exit", (code) => resolve(code)));
    const started = Date.now();
    shim.child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    const last = opencodePids().at(-1);
    if (last === undefined) throw new Error("no opencode pid");
    await eventually(() => !alive(last), 5000, "opencode to be gone");
  });
});
