import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StreamJudge, type Verdict } from "../../src/sources/stream-judge.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function judge(options = {}) {
  const verdicts: Verdict[] = [];
  const made = new StreamJudge({
    holdMs: 10_000,
    carriedToTrust: 5,
    turnsToTrust: 0,
    now: () => Date.now(),
    onVerdict: (verdict) => verdicts.push(verdict),
    ...options,
  });
  return { judge: made, verdicts };
}

describe("StreamJudge", () => {
  it("trusts a stream until the witnesses see it miss an event", () => {
    const { judge: j, verdicts } = judge();
    expect(j.verdict).toBe("honest");
    j.missed(["session.idle"]);
    expect(j.verdict).toBe("lying");
    expect(verdicts).toEqual(["lying"]);
    expect(j.reason).toBe("upstream's stream did not carry 1 event that REST showed (session.idle)");
  });

  it("can be told to forgive a lone miss, and then says what and why once there are more", () => {
    const { judge: j, verdicts } = judge({ missesToDistrust: 2 });
    j.missed(["session.idle"]);
    expect(j.verdict).toBe("honest");
    j.missed(["message.updated", "message.part.updated"]);
    expect(j.verdict).toBe("lying");
    expect(verdicts).toEqual(["lying"]);
    expect(j.reason).toBe(
      "upstream's stream did not carry 3 events that REST showed (message.part.updated, message.updated, session.idle)",
    );
  });

  it("forgets a lone miss after the window", () => {
    const { judge: j } = judge({ missWindowMs: 30_000, missesToDistrust: 2 });
    j.missed(["session.idle"]);
    vi.advanceTimersByTime(31_000);
    j.missed(["session.idle"]);
    expect(j.verdict).toBe("honest");
  });

  it("trusts it again only after the hold with enough carried, and a miss starts the hold over", () => {
    const { judge: j, verdicts } = judge();
    j.missed(["a", "b"]);
    j.carried(10);
    vi.advanceTimersByTime(5_000);
    j.missed(["c"]); // still lying: the hold starts again, and what was carried before no longer counts
    vi.advanceTimersByTime(9_000);
    expect(j.verdict).toBe("lying");
    vi.advanceTimersByTime(1_000);
    expect(j.verdict).toBe("lying"); // the hold is over, but nothing was carried since the miss
    j.carried(4);
    expect(j.verdict).toBe("lying");
    j.carried(1);
    expect(j.verdict).toBe("honest");
    expect(j.reason).toBeUndefined();
    expect(verdicts).toEqual(["lying", "honest"]);
  });

  it("a miss known late (a correction the stream had 3 s to carry) does not undo what the stream carried after that correction", () => {
    const { judge: j } = judge();
    j.missed(["a"]);
    const corrected = Date.now();
    vi.advanceTimersByTime(1_000);
    j.carried(5); // an honest turn, after the correction…
    vi.advanceTimersByTime(2_000);
    j.missed(["b"], corrected); // …whose miss is known only now
    expect(j.verdict).toBe("lying");
    vi.advanceTimersByTime(7_000); // the hold counts from the correction
    expect(j.verdict).toBe("honest");
  });

  it("trusts it again only once a whole turn was carried, however many changes were", () => {
    const { judge: j } = judge({ turnsToTrust: 1 });
    j.missed(["a"]);
    j.carried(50);
    vi.advanceTimersByTime(20_000);
    expect(j.verdict).toBe("lying");
    j.carried(6, 1);
    expect(j.verdict).toBe("honest");
  });

  it("does not count against a stream trusted again the miss of a correction made while it lied", () => {
    const { judge: j, verdicts } = judge();
    j.missed(["a"]);
    const corrected = Date.now();
    j.carried(5);
    vi.advanceTimersByTime(10_000);
    expect(j.verdict).toBe("honest");
    j.missed(["b"], corrected);
    expect(j.verdict).toBe("honest");
    j.missed(["c"]);
    expect(verdicts).toEqual(["lying", "honest", "lying"]);
  });

  it("returns by itself once the hold is over, when enough was carried early", () => {
    const { judge: j } = judge();
    j.missed(["a", "b"]);
    j.carried(5);
    vi.advanceTimersByTime(9_999);
    expect(j.verdict).toBe("lying");
    vi.advanceTimersByTime(1);
    expect(j.verdict).toBe("honest");
  });

  it("takes silence for no evidence: a quiet stream is neither distrusted nor trusted again", () => {
    const quiet = judge();
    vi.advanceTimersByTime(600_000);
    expect(quiet.judge.verdict).toBe("honest");
    const { judge: j } = judge();
    j.missed(["a", "b"]);
    vi.advanceTimersByTime(600_000);
    expect(j.verdict).toBe("lying");
  });

  it("holds a flapping stream longer each time, up to a cap, and forgives it after a long honest spell", () => {
    const { judge: j } = judge({ maxHoldMs: 30_000 });
    const lieThenProve = () => {
      j.missed(["a", "b"]);
      j.carried(5);
      const hold = j.holdingMs;
      vi.advanceTimersByTime(hold);
      expect(j.verdict).toBe("honest");
      return hold;
    };
    expect(lieThenProve()).toBe(10_000);
    expect(lieThenProve()).toBe(20_000); // lied again at once
    expect(lieThenProve()).toBe(30_000);
    expect(lieThenProve()).toBe(30_000);
    vi.advanceTimersByTime(600_000);
    expect(lieThenProve()).toBe(10_000);
  });
});
