import { afterAll, afterEach } from "vitest";

type Step = () => unknown;

/**
 * What a test set up, to be undone last-first. Every step runs even when an earlier one
 * throws (a shim that fails to close must not leave opencode running); the errors are
 * thrown together at the end.
 */
export class Teardown {
  readonly #steps: Step[] = [];

  add(step: Step): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} teardown steps failed`);
  }
}

/** A teardown run after each test of the file or `describe` it is made in. */
export function teardownAfterEach(): Teardown {
  const teardown = new Teardown();
  afterEach(() => teardown.run());
  return teardown;
}

/** A teardown run once the tests of the file or `describe` it is made in are done. */
export function teardownAfterAll(): Teardown {
  const teardown = new Teardown();
  afterAll(() => teardown.run());
  return teardown;
}

/** `close`, made safe to call twice: a test may close early what the teardown closes too. */
export function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= close();
    return closing;
  };
}
