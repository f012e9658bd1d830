import { beforeAll, expect } from "vitest";
import { type ModelServer, startModelServer } from "../../fixtures/model-server.js";
import {
  type OpencodeOptions,
  type OpencodeServer,
  type OpencodeVersion,
  startOpencode,
} from "../../fixtures/opencode.js";
import { type Relay, startRelay } from "../../fixtures/relay.js";
import { type ReceivedEvent, SseClient } from "../../fixtures/sse-client.js";
import type { Shim, ShimOverrides } from "../../src/app.js";
import { startTestShim } from "./shim.js";
import { type Teardown, teardownAfterAll, teardownAfterEach } from "./teardown.js";

export interface E2eShimOptions {
  flags?: string[];
  overrides?: ShimOverrides;
  /** Where the shim points: by default the relay when there is one, else opencode. */
  upstream?: string;
}

export interface E2eOptions {
  /** The opencode build the shim stands in front of. */
  version: OpencodeVersion;
  /** A second opencode, with the same model and config, for tests to compare with directly. */
  reference?: OpencodeVersion;
  /** OPENCODE_SERVER_PASSWORD, for opencode and for every shim. */
  password?: string;
  /** Merged into opencode.json. */
  config?: Record<string, unknown>;
  /** A relay (fixtures/relay.ts) between opencode and the shims, to inject faults with. */
  relay?: boolean;
  /** A shim the tests share (`true`: with no flags); without it, tests start their own with `startShim`. */
  shim?: true | E2eShimOptions;
}

export interface E2e {
  readonly opencode: OpencodeServer;
  readonly reference: OpencodeServer;
  readonly relay: Relay;
  readonly shim: Shim;
  /** A shim of the running test's own, closed after it. */
  startShim(options?: E2eShimOptions): Promise<Shim>;
  /** An event stream, closed after the running test. */
  open(url: string, headers?: Record<string, string>): Promise<SseClient>;
  /** The same, once it answered 200 and sent its first event (server.connected by default). */
  follow(url: string, isFirst?: (event: ReceivedEvent) => boolean): Promise<SseClient>;
  /** Something else the running test opened, to undo after it. */
  afterTest(step: () => unknown): void;
}

const isConnected = (event: ReceivedEvent) => event.json.type === "server.connected";

/**
 * The end-to-end set-up of a `describe`: before its tests, the offline model, the real opencode
 * at `version` (and `reference`), a relay and a shared shim if asked for; after them, all of it
 * stopped last-first (opencode by PID), however the tests went. What a test opens through
 * `startShim`, `open`, `follow` or `afterTest` is closed after that test. A missing opencode
 * binary fails the set-up, never skips it.
 */
export function e2eSetup(options: E2eOptions): E2e {
  const afterAllTests = teardownAfterAll();
  const afterEachTest = teardownAfterEach();
  const env: NodeJS.ProcessEnv = options.password ? { OPENCODE_SERVER_PASSWORD: options.password } : {};
  const started: {
    model?: ModelServer;
    opencode?: OpencodeServer;
    reference?: OpencodeServer;
    relay?: Relay;
    shim?: Shim;
  } = {};

  /** What the set-up started, or why it is not there (`option`: the one that asks for it). */
  function get<K extends keyof typeof started>(key: K, option?: string): NonNullable<(typeof started)[K]> {
    const value = started[key];
    if (value) return value as NonNullable<(typeof started)[K]>;
    throw new Error(
      option && started.model
        ? `e2e: no ${key}; ask for one with ${option}`
        : `e2e: no ${key} yet; the set-up starts it before the tests`,
    );
  }

  async function startShim(shimOptions: E2eShimOptions, teardown: Teardown): Promise<Shim> {
    const upstream = shimOptions.upstream ?? (started.relay ?? get("opencode")).url;
    const shim = await startTestShim(upstream, shimOptions.flags, env, shimOptions.overrides);
    teardown.add(() => shim.close());
    return shim;
  }

  beforeAll(async () => {
    const model = await startModelServer();
    afterAllTests.add(() => model.close());
    started.model = model;
    const opencodeOptions = {
      modelBaseURL: model.baseURL,
      password: options.password,
      config: options.config,
    };
    const [opencode, reference] = await startOpencodes(
      [options.version, ...(options.reference ? [options.reference] : [])],
      opencodeOptions,
      afterAllTests,
    );
    started.opencode = opencode;
    started.reference = reference;
    if (options.relay) {
      const relay = await startRelay(get("opencode").url);
      afterAllTests.add(() => relay.close());
      started.relay = relay;
    }
    if (options.shim) {
      const shimOptions = options.shim === true ? {} : options.shim;
      started.shim = await startShim(shimOptions, afterAllTests);
    }
  });

  const e2e: E2e = {
    get opencode() {
      return get("opencode");
    },
    get reference() {
      return get("reference", "`reference`");
    },
    get relay() {
      return get("relay", "`relay: true`");
    },
    get shim() {
      return get("shim", "`shim`");
    },
    startShim: (shimOptions = {}) => startShim(shimOptions, afterEachTest),
    async open(url, headers = {}) {
      const client = await SseClient.connect(url, headers);
      afterEachTest.add(() => client.close());
      return client;
    },
    async follow(url, isFirst = isConnected) {
      const client = await e2e.open(url);
      expect(client.status).toBe(200);
      await client.waitFor(isFirst);
      return client;
    },
    afterTest: (step) => afterEachTest.add(step),
  };
  return e2e;
}

/** Starts opencode at each version at once; each that started is stopped at the end, even when another failed. */
async function startOpencodes(
  versions: OpencodeVersion[],
  options: Omit<OpencodeOptions, "version">,
  teardown: Teardown,
): Promise<OpencodeServer[]> {
  const results = await Promise.allSettled(versions.map((version) => startOpencode({ ...options, version })));
  const servers = results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  teardown.add(async () => {
    const stopped = await Promise.allSettled(servers.map((server) => server.stop()));
    const failed = stopped.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  });
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  return servers;
}
