import { parseArgs } from "node:util";
import { InvalidConfig } from "./errors.js";
import type { Credentials } from "./opencode/credentials.js";
import { SOURCE_MODES, type SourceMode } from "./sources/sources.js";
import { parseDuration, parseSize } from "./units.js";

export interface Config {
  /** The opencode server to front; undefined: the shim starts one itself. */
  upstream: URL | undefined;
  /** The embedded opencode's binary (undefined: found on PATH or among the installed packages). */
  opencodeBin: string | undefined;
  /** Arguments for the embedded `opencode serve`, from after `--`. */
  opencodeArgs: string[];
  /** Origins allowed to call the shim's own routes from a browser, beside localhost. */
  cors: string[];
  logFormat: "json" | "pretty";
  source: SourceMode;
  pollIntervalMs: number;
  /** Requests a second the reconciler may make to upstream, all instances together (0: no budget). */
  readBudget: number;
  logDir: string | undefined;
  host: string;
  port: number;
  upstreamWaitMs: number;
  heartbeatMs: number;
  replaySize: number;
  maxClientBufferBytes: number;
  maxClients: number;
  logLevel: LogLevel;
  /** The shim's own credentials for upstream: opencode's own variables. */
  credentials: Credentials | undefined;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Option {
  flag: string;
  env: string;
  value: string;
  fallback: string | undefined;
  help: string;
}

/** Every setting: its flag, its environment variable, its default. `--help` is made from this. */
export const OPTIONS = {
  upstream: {
    flag: "upstream",
    env: "OPENCODE_SHIM_UPSTREAM",
    value: "URL",
    fallback: undefined,
    help: "the opencode server to front, e.g. http://127.0.0.1:4096; without it the shim starts `opencode serve` itself",
  },
  opencodeBin: {
    flag: "opencode-bin",
    env: "OPENCODE_BIN",
    value: "PATH",
    fallback: undefined,
    help: "the opencode binary to start when there is no --upstream (else: PATH, then the opencode-linux-x64 package)",
  },
  source: {
    flag: "source",
    env: "OPENCODE_SHIM_SOURCE",
    value: "SOURCE",
    fallback: "auto",
    help: "auto|global|poll|passthrough: where /event comes from (auto: global, reading REST while it is down or lying)",
  },
  pollInterval: {
    flag: "poll-interval",
    env: "OPENCODE_SHIM_POLL_INTERVAL",
    value: "MS",
    fallback: "250",
    help: "while the reconciler feeds clients (polling, or around a lying stream): how often it reads a busy session's messages while they change (backing off to 1.5 s while they do not); the sessions and statuses every 4x that (at least 1 s)",
  },
  readBudget: {
    flag: "read-budget",
    env: "OPENCODE_SHIM_READ_BUDGET",
    value: "N",
    fallback: "100",
    help: "REST requests a second the shim may make to opencode to check or rebuild /event, all instances together (fewer while opencode answers slowly); 0 for no limit",
  },
  logDir: {
    flag: "log-dir",
    env: "OPENCODE_SHIM_LOG_DIR",
    value: "DIR",
    fallback: undefined,
    help: "opencode's log folder (e.g. ~/.local/share/opencode/log): its lines trigger an immediate read, and tell what the stream should have carried; when the shim starts opencode, that opencode's own",
  },
  host: {
    flag: "host",
    env: "OPENCODE_SHIM_HOST",
    value: "HOST",
    fallback: "127.0.0.1",
    help: "address to listen on",
  },
  port: {
    flag: "port",
    env: "OPENCODE_SHIM_PORT",
    value: "PORT",
    fallback: "4097",
    help: "port to listen on; 0 takes a free one",
  },
  upstreamWait: {
    flag: "upstream-wait",
    env: "OPENCODE_SHIM_UPSTREAM_WAIT",
    value: "SECONDS",
    fallback: "30",
    help: "how long to wait at start-up for upstream to answer (also 500ms, 2m)",
  },
  heartbeat: {
    flag: "heartbeat-interval",
    env: "OPENCODE_SHIM_HEARTBEAT_INTERVAL",
    value: "MS",
    fallback: "10000",
    help: "interval of server.heartbeat on /event, as opencode's",
  },
  replaySize: {
    flag: "replay-size",
    env: "OPENCODE_SHIM_REPLAY_SIZE",
    value: "N",
    fallback: "4096",
    help: "events kept per instance for Last-Event-ID resume",
  },
  maxClientBuffer: {
    flag: "max-client-buffer",
    env: "OPENCODE_SHIM_MAX_CLIENT_BUFFER",
    value: "BYTES",
    fallback: "8MiB",
    help: "unsent bytes a client may fall behind before it is dropped (it can resume)",
  },
  maxClients: {
    flag: "max-clients",
    env: "OPENCODE_SHIM_MAX_CLIENTS",
    value: "N",
    fallback: "10000",
    help: "event streams served at once; one more is answered 503",
  },
  cors: {
    flag: "cors",
    env: "OPENCODE_SHIM_CORS",
    value: "ORIGIN",
    fallback: undefined,
    help: "another origin allowed to call /shim/*, /event and the shim's own /global/event from a browser, passed on to an opencode the shim starts (repeatable; env: comma-separated)",
  },
  logLevel: {
    flag: "log-level",
    env: "OPENCODE_SHIM_LOG_LEVEL",
    value: "LEVEL",
    fallback: "info",
    help: `${LOG_LEVELS.join("|")}; logs go to stderr`,
  },
  logFormat: {
    flag: "log-format",
    env: "OPENCODE_SHIM_LOG_FORMAT",
    value: "FORMAT",
    fallback: "json",
    help: "json|pretty: JSON lines, or readable lines for a terminal",
  },
} satisfies Record<string, Option>;

type Key = keyof typeof OPTIONS;

type ParsedCommandLine =
  | { kind: "run"; config: Config }
  | { kind: "help"; text: string }
  | { kind: "version" }
  | { kind: "error"; message: string };

export function helpText(): string {
  const rows = Object.values(OPTIONS).map((option: Option) => {
    const left = `  --${option.flag} ${option.value}`;
    const fallback = option.fallback === undefined ? "" : ` [default: ${option.fallback}]`;
    return `${left.padEnd(32)}${option.help}${fallback}\n${"".padEnd(32)}env ${option.env}`;
  });
  return [
    "Usage: opencode-event-shim [--upstream URL] [options] [-- opencode serve arguments]",
    "",
    "A sidecar in front of an opencode server whose GET /event is broken (1.14.43-1.14.48):",
    "every other route passes through untouched; /event is rebuilt from upstream's",
    "/global/event stream, from polling its REST API, and from its log.",
    "",
    "Options:",
    ...rows,
    `${"  --help".padEnd(32)}show this help`,
    `${"  --version".padEnd(32)}print the version`,
    "",
    "Upstream credentials come from opencode's own OPENCODE_SERVER_PASSWORD and",
    "OPENCODE_SERVER_USERNAME (default user: opencode); with a password, /shim/ and",
    "/shim/metrics need the same credentials, and /shim/health tells others its status only.",
    "Without --upstream, the shim runs `opencode serve --hostname 127.0.0.1 --port 0`",
    "itself (plus what follows --), follows its log, restarts it if it dies and stops it",
    "on shutdown.",
    "",
  ].join("\n");
}

/** One setting as given: its text (from its flag, its variable or its default) and where it came from, to name in an error. */
interface Setting {
  text: string | undefined;
  source: string;
}

type Flags = Record<string, string | string[] | boolean | undefined>;

/** Command line and environment → a checked config, or a one-line reason it is wrong. */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  const separator = argv.indexOf("--");
  const shimArgs = separator === -1 ? argv : argv.slice(0, separator);
  const opencodeArgs = separator === -1 ? [] : argv.slice(separator + 1);
  let flags: Flags;
  try {
    flags = readFlags(shimArgs);
  } catch (error) {
    return { kind: "error", message: (error as Error).message.split("\n")[0] ?? "invalid arguments" };
  }
  if (flags.help) return { kind: "help", text: helpText() };
  if (flags.version) return { kind: "version" };
  try {
    return { kind: "run", config: checkedConfig((key) => settingOf(key, flags, env), opencodeArgs, env) };
  } catch (error) {
    if (error instanceof InvalidConfig) return { kind: "error", message: error.message };
    throw error;
  }
}

/** Phase 1: the shim's own arguments, by flag; throws on one it does not know. */
function readFlags(args: string[]): Flags {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
    version: { type: "boolean" },
  };
  for (const option of Object.values(OPTIONS)) options[option.flag] = { type: "string" };
  options.cors = { type: "string", multiple: true };
  return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Flags;
}

/** Phase 2: a setting from its flag, else its environment variable, else its default. */
function settingOf(key: Key, flags: Flags, env: NodeJS.ProcessEnv): Setting {
  const option: Option = OPTIONS[key];
  const fromFlag = flags[option.flag];
  if (typeof fromFlag === "string") return { text: fromFlag, source: `--${option.flag}` };
  if (Array.isArray(fromFlag)) return { text: fromFlag.join(","), source: `--${option.flag}` };
  const fromEnv = env[option.env];
  if (fromEnv !== undefined && fromEnv !== "") return { text: fromEnv, source: option.env };
  return { text: option.fallback, source: `--${option.flag}` };
}

/** Phase 3: every setting checked and read; throws `InvalidConfig` naming the first that is wrong. */
function checkedConfig(
  setting: (key: Key) => Setting,
  opencodeArgs: string[],
  env: NodeJS.ProcessEnv,
): Config {
  const password = env.OPENCODE_SERVER_PASSWORD;
  const upstream = setting("upstream");
  if (upstream.text !== undefined && opencodeArgs.length > 0) {
    throw new InvalidConfig(
      "arguments after -- are for the opencode the shim starts itself: not with --upstream",
    );
  }
  const duration = (key: Key, bareUnit: "ms" | "s", expected: string) =>
    parseWith(setting(key), (text) => parseDuration(text, bareUnit), expected);
  return {
    upstream: upstream.text === undefined ? undefined : parseUpstream(upstream),
    opencodeBin: setting("opencodeBin").text,
    opencodeArgs,
    cors: parseOrigins(setting("cors")),
    logFormat: parseLogFormat(setting("logFormat")),
    source: parseSource(setting("source")),
    pollIntervalMs: positive(duration("pollInterval", "ms", "a duration in ms"), setting("pollInterval")),
    readBudget: parseInteger(setting("readBudget"), 0, 100_000),
    logDir: setting("logDir").text,
    host: parseHost(setting("host")),
    port: parseInteger(setting("port"), 0, 65535),
    upstreamWaitMs: duration("upstreamWait", "s", "a duration such as 30, 30s or 500ms"),
    heartbeatMs: positive(duration("heartbeat", "ms", "a duration in ms"), setting("heartbeat")),
    replaySize: parseInteger(setting("replaySize"), 1, 1_000_000),
    maxClientBufferBytes: positive(
      parseWith(setting("maxClientBuffer"), parseSize, "a size such as 8MiB"),
      setting("maxClientBuffer"),
    ),
    maxClients: parseInteger(setting("maxClients"), 1, 1_000_000),
    logLevel: parseLogLevel(setting("logLevel")),
    credentials: password ? { username: env.OPENCODE_SERVER_USERNAME || "opencode", password } : undefined,
  };
}

function parseUpstream({ text, source }: Setting): URL {
  let url: URL;
  try {
    url = new URL(text ?? "");
  } catch {
    throw new InvalidConfig(`${source}: "${text}" is not a URL (expected e.g. http://127.0.0.1:4096)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidConfig(`${source}: only http:// and https:// upstreams are supported`);
  }
  if (
    (url.pathname !== "/" && url.pathname !== "") ||
    url.search ||
    url.hash ||
    url.username ||
    url.password
  ) {
    throw new InvalidConfig(
      `${source}: give the server's origin only, e.g. ${url.origin} (credentials go in OPENCODE_SERVER_PASSWORD)`,
    );
  }
  return url;
}

function parseHost({ text, source }: Setting): string {
  if (!text || /\s/.test(text)) throw new InvalidConfig(`${source}: "${text ?? ""}" is not a host`);
  return text;
}

function parseInteger({ text, source }: Setting, min: number, max: number): number {
  const value = text !== undefined && /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidConfig(`${source}: "${text ?? ""}" is not a whole number from ${min} to ${max}`);
  }
  return value;
}

function parseWith(
  { text, source }: Setting,
  parse: (text: string) => number | undefined,
  expected: string,
): number {
  const value = text === undefined ? undefined : parse(text);
  if (value === undefined) throw new InvalidConfig(`${source}: "${text ?? ""}" is not ${expected}`);
  return value;
}

function positive(value: number, { text, source }: Setting): number {
  if (value <= 0) throw new InvalidConfig(`${source}: "${text ?? ""}" must be more than 0`);
  return value;
}

function parseOrigins({ text, source }: Setting): string[] {
  if (!text) return [];
  return text.split(",").map((origin) => {
    const trimmed = origin.trim();
    let url: URL | undefined;
    try {
      url = new URL(trimmed);
    } catch {}
    if (!url || url.origin !== trimmed.replace(/\/$/, "")) {
      throw new InvalidConfig(
        `${source}: "${trimmed}" is not an origin (expected e.g. https://app.example.com)`,
      );
    }
    return url.origin;
  });
}

function parseLogFormat({ text, source }: Setting): "json" | "pretty" {
  if (text !== "json" && text !== "pretty")
    throw new InvalidConfig(`${source}: "${text ?? ""}" is not json or pretty`);
  return text;
}

function parseSource({ text, source }: Setting): SourceMode {
  const mode = SOURCE_MODES.find((candidate) => candidate === text);
  if (!mode) throw new InvalidConfig(`${source}: "${text ?? ""}" is not one of ${SOURCE_MODES.join(", ")}`);
  return mode;
}

function parseLogLevel({ text, source }: Setting): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === text);
  if (!level) throw new InvalidConfig(`${source}: "${text ?? ""}" is not one of ${LOG_LEVELS.join(", ")}`);
  return level;
}
