import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeUpstream, fakeEvent, startFakeUpstream } from "../../fixtures/fake-upstream.js";
import { SseClient } from "../../fixtures/sse-client.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const children: ChildProcess[] = [];
let upstream: FakeUpstream | undefined;

beforeAll(() => {
  // The tests run what `bin` points at: `npm test` builds it first.
  readFileSync(CLI);
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  await upstream?.close();
  upstream = undefined;
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

function listening(run: Run): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(run.stdout());
      if (match?.[1]) resolve(match[1]);
    };
    run.child.stdout?.on("data", check);
    run.exit.then(({ code }) => reject(new Error(`exited ${code} before listening: ${run.stderr()}`)));
    check();
  });
}

describe("opencode-event-shim (command line)", () => {
  it("prints its help and version", async () => {
    const help = cli(["--help"]);
    expect((await help.exit).code).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: opencode-event-shim \[--upstream URL\]/);
    const version = cli(["--version"]);
    expect((await version.exit).code).toBe(0);
    const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(version.stdout().trim()).toBe(manifest.version);
  });

  it.each([
    [["--upstream", "http://127.0.0.1:1", "--bogus"], "Unknown option '--bogus'"],
    [["--cors", "nope"], '--cors: "nope" is not an origin'],
    [["--upstream", "http://127.0.0.1:1", "--port", "banana"], '--port: "banana"'],
  ])("rejects %j with exit 2 and one line", async (args, text) => {
    const run = cli(args);
    expect((await run.exit).code).toBe(2);
    const lines = run.stderr().trim().split("\n");
    expect(lines[0]).toContain(text);
    expect(lines[1]).toBe("Try 'opencode-event-shim --help'.");
    expect(lines).toHaveLength(2);
    expect(run.stdout()).toBe("");
  });

  it("gives up on an upstream that never answers with one line and exit 1", async () => {
    const run = cli(["--upstream", "http://127.0.0.1:9", "--upstream-wait", "0.5", "--port", "0"]);
    expect((await run.exit).code).toBe(1);
    const stderr = run.stderr().trim();
    // Log lines are JSON; the error is the one plain line, and it is the last.
    const plain = stderr.split("\n").filter((line) => !line.startsWith("{"));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(
      /^opencode-event-shim: upstream did not become ready within 0.5 s: cannot reach upstream http:\/\/127.0.0.1:9: .*ECONNREFUSED/,
    );
    expect(stderr.endsWith(plain[0] ?? "")).toBe(true);
    expect(stderr).not.toMatch(/\s+at .*\(.*:\d+:\d+\)/);
  });

  it("writes readable log lines with --log-format pretty, JSON lines by default", async () => {
    const pretty = cli([
      "--upstream",
      "http://127.0.0.1:9",
      "--upstream-wait",
      "0.2",
      "--log-format",
      "pretty",
    ]);
    const json = cli(["--upstream", "http://127.0.0.1:9", "--upstream-wait", "0.2"]);
    await Promise.all([pretty.exit, json.exit]);
    const [prettyLine] = pretty.stderr().split("\n");
    expect(prettyLine).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: waiting for upstream http:\/\/127\.0\.0\.1:9/,
    );
    const [jsonLine] = json.stderr().split("\n");
    expect(JSON.parse(jsonLine ?? "")).toMatchObject({
      level: 30,
      msg: expect.stringContaining("waiting for upstream"),
    });
  });

  it("waits for an upstream that starts later", async () => {
    const reserved = await startFakeUpstream();
    const port = new URL(reserved.url).port;
    await reserved.close();
    const run = cli(["--upstream", `http://127.0.0.1:${port}`, "--port", "0", "--upstream-wait", "20"]);
    // The sidecar is up first; upstream comes after it.
    await new Promise<void>((resolve) => {
      const check = () => (run.stderr().includes("waiting for upstream") ? resolve() : undefined);
      run.child.stderr?.on("data", check);
      check();
    });
    upstream = await startFakeUpstream({ port: Number(port) });
    const url = await listening(run);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each(["SIGTERM", "SIGINT"] as const)(
    "listens where it says, serves /event, and exits 0 on %s",
    async (signal) => {
      upstream = await startFakeUpstream();
      const run = cli([], { OPENCODE_SHIM_UPSTREAM: upstream.url, OPENCODE_SHIM_PORT: "0" });
      const url = await listening(run);
      expect(run.stdout()).toBe(`opencode-event-shim listening on ${url}\n`);
      const client = await SseClient.connect(`${url}/event`);
      await client.waitFor((event) => event.json.type === "server.connected");
      upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
      await client.waitFor((event) => event.json.type === "session.idle");

      const started = Date.now();
      run.child.kill(signal);
      expect((await run.exit).code).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      await client.ended;
      expect(client.endedCleanly).toBe(true);
      await expect(fetch(`${url}/shim/health`)).rejects.toThrow();
    },
  );

  it("never writes the upstream password to its logs", async () => {
    upstream = await startFakeUpstream({ password: "hunter2-secret" });
    const run = cli(["--upstream", upstream.url, "--port", "0", "--log-level", "trace"], {
      OPENCODE_SERVER_PASSWORD: "hunter2-secret",
    });
    const url = await listening(run);
    const basic = Buffer.from("opencode:hunter2-secret").toString("base64");
    await fetch(`${url}/session?auth_token=${basic}`).then((response) => response.arrayBuffer());
    await fetch(`${url}/session`, { headers: { authorization: `Basic ${basic}` } }).then((r) =>
      r.arrayBuffer(),
    );
    const client = await SseClient.connect(`${url}/event?auth_token=${basic}`);
    await client.waitFor((event) => event.json.type === "server.connected");
    client.close();
    run.child.kill("SIGTERM");
    await run.exit;
    const logs = run.stdout() + run.stderr();
    expect(logs).toContain("request answered");
    expect(logs).not.toContain("hunter2-secret");
    expect(logs).not.toContain(basic);
  });
});
