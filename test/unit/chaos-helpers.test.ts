import { describe, expect, it } from "vitest";
import { reachableFrom } from "../helpers/chaos/clients.js";
import { Gate } from "../helpers/chaos/gate.js";
import { downtime } from "../helpers/chaos/judge.js";
import { quantile } from "../helpers/chaos/stats.js";
import { Random } from "../helpers/prng.js";

describe("the random fault run's helpers", () => {
  it("a seed replays: the same draws, and forks independent of how much another stream drew", () => {
    const draws = (random: Random) => Array.from({ length: 5 }, () => random.int(0, 1000));
    expect(draws(new Random(42))).toEqual(draws(new Random(42)));
    expect(draws(new Random(42))).not.toEqual(draws(new Random(43)));
    const a = new Random(7);
    const b = new Random(7);
    a.next();
    expect(draws(a.fork("x"))).toEqual(draws(b.fork("x")));
    expect(draws(a.fork("x"))).not.toEqual(draws(a.fork("y")));
  });

  it("draws stay in range and follow their weights", () => {
    const random = new Random(1);
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 10_000; i++) {
      const n = random.int(3, 5);
      expect(n >= 3 && n <= 5).toBe(true);
      counts[random.weighted({ a: 1, b: 3 })]++;
    }
    expect(counts.b / counts.a).toBeGreaterThan(2.5);
    expect(counts.b / counts.a).toBeLessThan(3.5);
  });

  it("the gate lets turns run side by side and a fault only between them", async () => {
    const gate = new Gate();
    const order: string[] = [];
    let endTurn!: () => void;
    const turn = gate.turn(
      () =>
        new Promise<void>((resolve) => {
          order.push("turn starts");
          endTurn = () => {
            order.push("turn ends");
            resolve();
          };
        }),
    );
    const fault = gate.between(async () => {
      order.push("fault");
    });
    const next = gate.turn(async () => {
      order.push("next turn");
    });
    await Promise.resolve();
    expect(order).toEqual(["turn starts"]);
    endTurn();
    await Promise.all([turn, fault, next]);
    expect(order).toEqual(["turn starts", "turn ends", "fault", "next turn"]);
  });

  it("quantiles by nearest rank", () => {
    expect(quantile([], 0.5)).toBe(0);
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
  });

  it("a turn's end is late by the time the client was there and opencode up: from the client's last return, without restarts", () => {
    const absences = [
      { from: 100, to: 200 },
      { from: 1_050, to: 3_000 },
    ];
    expect(reachableFrom(absences, 150, 400)).toBe(200); // away when it ended: from its return
    expect(reachableFrom(absences, 1_000, 3_100)).toBe(3_000); // left a moment after, got it on return
    expect(reachableFrom(absences, 500, 900)).toBe(500); // there throughout
    const faults = [
      { at: 1_000, what: "opencode restarted", until: 2_500 },
      { at: 1_200, what: "streams cut" },
    ];
    expect(downtime(faults, 500, 4_000)).toBe(1_500);
    expect(downtime(faults, 2_000, 4_000)).toBe(500);
    expect(downtime(faults, 3_000, 4_000)).toBe(0);
  });
});
