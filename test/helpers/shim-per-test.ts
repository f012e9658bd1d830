import {
  type FakeUpstream,
  type FakeUpstreamOptions,
  startFakeUpstream,
} from "../../fixtures/fake-upstream.js";
import { SseClient } from "../../fixtures/sse-client.js";
import type { Shim, ShimOverrides } from "../../src/app.js";
import { startTestShim } from "./shim.js";
import { once, teardownAfterEach } from "./teardown.js";

export interface ShimOptions {
  flags?: string[];
  env?: NodeJS.ProcessEnv;
  overrides?: ShimOverrides;
}

export interface ShimPerTest {
  /** This test's fake upstream; throws before `startUpstream`. */
  readonly upstream: FakeUpstream;
  /** This test's shim; throws before `startShim`. */
  readonly shim: Shim;
  startUpstream(options?: FakeUpstreamOptions): Promise<FakeUpstream>;
  /** A shim in front of this test's upstream (it may refuse to start: the test can expect that). */
  startShim(options?: ShimOptions): Promise<Shim>;
  /** Both: the usual start of a test. */
  start(
    options?: ShimOptions & { upstream?: FakeUpstreamOptions },
  ): Promise<{ upstream: FakeUpstream; shim: Shim }>;
  /** Closes the upstream now, for a test of the shim without it. */
  stopUpstream(): Promise<void>;
  /** A stream from the shim (`path` on its URL), closed after the test. */
  open(path: string, headers?: Record<string, string>): Promise<SseClient>;
  /** The same, once the shim has said server.connected (when it answered 200). */
  connect(path?: string, headers?: Record<string, string>): Promise<SseClient>;
  /** Something else the test opened, to undo after it. */
  afterTest(step: () => unknown): void;
}

/**
 * For unit tests of the whole shim: a fake upstream and a shim in front of it, made per test
 * on demand, and closed after each test with whatever the test handed `afterTest` — clients
 * first, then the shim, then upstream.
 */
export function shimPerTest(): ShimPerTest {
  const teardown = teardownAfterEach();
  let upstream: FakeUpstream | undefined;
  let shim: Shim | undefined;
  let closeUpstream: () => Promise<void> = async () => {};

  const harness: ShimPerTest = {
    get upstream() {
      if (!upstream) throw new Error("no upstream: call startUpstream() first");
      return upstream;
    },
    get shim() {
      if (!shim) throw new Error("no shim: call startShim() first");
      return shim;
    },
    async startUpstream(options = {}) {
      const started = await startFakeUpstream(options);
      upstream = started;
      closeUpstream = once(() => started.close());
      teardown.add(() => {
        upstream = undefined;
        return closeUpstream();
      });
      return started;
    },
    async startShim({ flags = [], env = {}, overrides = {} } = {}) {
      const started = await startTestShim(harness.upstream.url, flags, env, overrides);
      shim = started;
      teardown.add(async () => {
        shim = undefined;
        await started.close();
      });
      return started;
    },
    async start(options = {}) {
      await harness.startUpstream(options.upstream);
      await harness.startShim(options);
      return { upstream: harness.upstream, shim: harness.shim };
    },
    stopUpstream: () => closeUpstream(),
    async open(path, headers = {}) {
      const client = await SseClient.connect(`${harness.shim.url}${path}`, headers);
      teardown.add(() => client.close());
      return client;
    },
    async connect(path = "/event", headers = {}) {
      const client = await harness.open(path, headers);
      if (client.status === 200) await client.waitFor((event) => event.json.type === "server.connected");
      return client;
    },
    afterTest: (step) => teardown.add(step),
  };
  return harness;
}
