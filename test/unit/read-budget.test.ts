import { describe, expect, it } from "vitest";
import { ReadBudget } from "../../src/sources/reconciler/read-budget.js";

/** Whether a promise has settled by now (after the microtasks queued so far). */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe("the read budget", () => {
  it("lets a second's worth go at once, then makes the rest wait their turn, in order, and counts them", async () => {
    const clock = { now: 0 };
    let told = 0;
    const budget = new ReadBudget(
      3,
      () => told++,
      () => clock.now,
    );
    for (let i = 0; i < 3; i++) expect(await settled(budget.take())).toBe(true);
    const order: number[] = [];
    const waiting = [0, 1].map((i) => budget.take().then(() => order.push(i)));
    expect(await settled(waiting[0] as unknown as Promise<void>)).toBe(false);
    expect(budget.deferred).toBe(2);
    expect(told).toBe(2);
    clock.now = 1_000; // a second later there is room again
    await Promise.all(waiting);
    expect(order).toEqual([0, 1]);
    budget.stop();
  });

  it("allows fewer requests a second while opencode answers slowly, and the full budget again once it is quick", () => {
    const budget = new ReadBudget(40);
    expect(budget.rate).toBe(40);
    for (let i = 0; i < 30; i++) budget.answered(400);
    expect(budget.rate).toBeLessThan(12);
    expect(budget.rate).toBeGreaterThanOrEqual(4); // never below a tenth
    for (let i = 0; i < 30; i++) budget.answered(5);
    expect(budget.rate).toBe(40);
  });

  it("with no budget, never makes a request wait", async () => {
    const budget = new ReadBudget(0);
    for (let i = 0; i < 1_000; i++) expect(await settled(budget.take())).toBe(true);
    expect(budget.deferred).toBe(0);
  });

  it("lets every waiting request go when the reads stop", async () => {
    const budget = new ReadBudget(1, undefined, () => 0);
    await budget.take();
    const waiting = budget.take();
    budget.stop();
    expect(await settled(waiting)).toBe(true);
  });
});
