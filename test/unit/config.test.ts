import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { helpText, OPTIONS, type Option, parseCommandLine } from "../../src/config.js";

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseCommandLine(argv, env);
  if (parsed.kind !== "run") throw new Error(JSON.stringify(parsed));
  return parsed.config;
};
const error = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseCommandLine(argv, env);
  if (parsed.kind !== "error") throw new Error(`expected an error, got ${parsed.kind}`);
  return parsed.message;
};

describe("parseCommandLine", () => {
  it("has the documented defaults", () => {
    const config = run(["--upstream", "http://127.0.0.1:4096"]);
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 4097,
      upstreamWaitMs: 30_000,
      heartbeatMs: 10_000,
      replaySize: 4096,
      maxClientBufferBytes: 8 * 1024 * 1024,
      logLevel: "info",
      credentials: undefined,
    });
    expect(config.upstream?.origin).toBe("http://127.0.0.1:4096");
  });

  it("reads the environment, and flags win over it", () => {
    const env = {
      OPENCODE_SHIM_UPSTREAM: "http://10.0.0.5:4096",
      OPENCODE_SHIM_PORT: "0",
      OPENCODE_SHIM_HOST: "0.0.0.0",
    };
    expect(run([], env)).toMatchObject({ port: 0, host: "0.0.0.0" });
    expect(run([], env).upstream?.host).toBe("10.0.0.5:4096");
    expect(run(["--port", "5000"], env).port).toBe(5000);
  });

  it("takes durations and sizes with units", () => {
    const config = run([
      "--upstream=http://h:1",
      "--upstream-wait",
      "500ms",
      "--heartbeat-interval",
      "2s",
      "--max-client-buffer",
      "512KiB",
    ]);
    expect(config).toMatchObject({
      upstreamWaitMs: 500,
      heartbeatMs: 2000,
      maxClientBufferBytes: 512 * 1024,
    });
    expect(run(["--upstream=http://h:1", "--upstream-wait", "2"]).upstreamWaitMs).toBe(2000);
  });

  it("starts opencode itself without --upstream, with the arguments after --", () => {
    const config = run(["--opencode-bin", "/opt/opencode", "--", "--print-logs", "--log-level", "DEBUG"]);
    expect(config.upstream).toBeUndefined();
    expect(config.opencodeBin).toBe("/opt/opencode");
    expect(config.opencodeArgs).toEqual(["--print-logs", "--log-level", "DEBUG"]);
    expect(run([], { OPENCODE_BIN: "/usr/local/bin/opencode" }).opencodeBin).toBe("/usr/local/bin/opencode");
  });

  it("takes --cors origins, repeated or comma-separated", () => {
    expect(run(["--cors", "https://a.example", "--cors", "http://b.example:8080"]).cors).toEqual([
      "https://a.example",
      "http://b.example:8080",
    ]);
    expect(run([], { OPENCODE_SHIM_CORS: "https://a.example, https://c.example/" }).cors).toEqual([
      "https://a.example",
      "https://c.example",
    ]);
  });

  it("takes upstream credentials from opencode's own variables", () => {
    expect(run(["--upstream=http://h:1"], { OPENCODE_SERVER_PASSWORD: "pw" }).credentials).toEqual({
      username: "opencode",
      password: "pw",
    });
    expect(
      run(["--upstream=http://h:1"], { OPENCODE_SERVER_PASSWORD: "pw", OPENCODE_SERVER_USERNAME: "al" })
        .credentials,
    ).toEqual({ username: "al", password: "pw" });
  });

  it.each([
    [["--upstream", "http://h:1", "--bogus"], /Unknown option '--bogus'/],
    [["--cors", "not an origin"], /--cors: "not an origin" is not an origin/],
    [["--cors", "https://a.example/path"], /is not an origin/],
    [
      ["--upstream", "http://h:1", "--", "--print-logs"],
      /arguments after -- are for the opencode the shim starts itself/,
    ],
    [["--log-format", "xml"], /--log-format: "xml" is not json or pretty/],
    [["--upstream", "not a url"], /--upstream: "not a url" is not a URL/],
    [["--upstream", "ftp://h/"], /only http:\/\/ and https:\/\//],
    [["--upstream", "http://h:1/api"], /origin only/],
    [["--upstream", "http://u:p@h:1"], /origin only/],
    [
      ["--upstream", "http://h:1", "--port", "70000"],
      /--port: "70000" is not a whole number from 0 to 65535/,
    ],
    [["--upstream", "http://h:1", "--port", "-1"], /--port/],
    [["--upstream", "http://h:1", "--upstream-wait", "soon"], /--upstream-wait: "soon" is not a duration/],
    [["--upstream", "http://h:1", "--heartbeat-interval", "0"], /must be more than 0/],
    [["--upstream", "http://h:1", "--replay-size", "0"], /--replay-size/],
    [["--upstream", "http://h:1", "--max-client-buffer", "lots"], /--max-client-buffer/],
    [["--upstream", "http://h:1", "--log-level", "loud"], /--log-level: "loud" is not one of/],
    [["--upstream", "http://h:1", "extra"], /Unexpected argument 'extra'/],
  ])("rejects %j with one clear line", (argv, pattern) => {
    const message = error(argv);
    expect(message).toMatch(pattern);
    expect(message).not.toContain("\n");
  });

  it("names the environment variable when the bad value came from there", () => {
    expect(error(["--upstream", "http://h:1"], { OPENCODE_SHIM_PORT: "x" })).toMatch(/^OPENCODE_SHIM_PORT:/);
  });

  it("reads --read-budget as requests a second, 0 for none, and refuses anything else", () => {
    const run = (args: string[], env: Record<string, string> = {}) => {
      const parsed = parseCommandLine(["--upstream", "http://h:1", ...args], env);
      return parsed.kind === "run" ? parsed.config.readBudget : parsed.kind;
    };
    expect(run([])).toBe(100);
    expect(run(["--read-budget", "5"])).toBe(5);
    expect(run(["--read-budget", "0"])).toBe(0);
    expect(run([], { OPENCODE_SHIM_READ_BUDGET: "12" })).toBe(12);
    expect(error(["--upstream", "http://h:1", "--read-budget", "lots"])).toMatch(/read-budget/);
    expect(error(["--upstream", "http://h:1", "--read-budget", "-1"])).toMatch(/read-budget/);
  });

  it("documents every flag with its environment variable and default in --help, and in the README", () => {
    expect(parseCommandLine(["--help"], {}).kind).toBe("help");
    const text = helpText();
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const options: Option[] = Object.values(OPTIONS);
    expect(options.length).toBe(16);
    for (const option of options) {
      const line = text
        .split("\n")
        .find((candidate) => candidate.trimStart().startsWith(`--${option.flag} `));
      expect(line, option.flag).toContain(`--${option.flag} ${option.value}`);
      expect(text, option.flag).toContain(`env ${option.env}`);
      if (option.fallback !== undefined) expect(line, option.flag).toContain(`[default: ${option.fallback}]`);
      // The README's configuration table: the same flag, variable and default.
      const row = readme.split("\n").find((candidate) => candidate.startsWith(`| \`--${option.flag} `));
      expect(row, `README row for --${option.flag}`).toBeDefined();
      const [flag, env, fallback] = (row ?? "").slice(2).split(" | ");
      expect(flag).toBe(`\`--${option.flag} ${option.value}\``);
      expect(env).toBe(`\`${option.env}\``);
      expect(fallback).toMatch(
        option.fallback === undefined ? /^\(none/ : new RegExp(`^\`${option.fallback}\`$`),
      );
    }
    for (const env of ["OPENCODE_SERVER_PASSWORD", "OPENCODE_SERVER_USERNAME"]) expect(text).toContain(env);
    expect(text).toContain("--help");
    expect(text).toContain("--version");
  });
});
