import { describe, expect, it } from "vitest";
import { Ring } from "../../src/hub/ring.js";

const item = (seq: number) => ({ seq });
const seqs = (items: Array<{ seq: number }> | undefined) => items?.map((entry) => entry.seq);

describe("Ring", () => {
  it("returns what came after a cursor, oldest first", () => {
    const ring = new Ring(5);
    for (const seq of [1, 2, 3]) ring.push(item(seq));
    expect(seqs(ring.since(0))).toEqual([1, 2, 3]);
    expect(seqs(ring.since(1))).toEqual([2, 3]);
    expect(seqs(ring.since(3))).toEqual([]);
  });

  it("handles gaps in the numbering (other instances' events)", () => {
    const ring = new Ring(10);
    for (const seq of [2, 5, 9, 14]) ring.push(item(seq));
    expect(seqs(ring.since(4))).toEqual([5, 9, 14]);
    expect(seqs(ring.since(5))).toEqual([9, 14]);
    expect(seqs(ring.since(13))).toEqual([14]);
  });

  it("keeps only the newest items and refuses a cursor whose successors were evicted", () => {
    const ring = new Ring(3);
    for (let seq = 1; seq <= 7; seq++) ring.push(item(seq));
    expect(ring.size).toBe(3);
    expect(ring.evictedUpTo).toBe(4);
    expect(ring.since(3)).toBeUndefined();
    expect(seqs(ring.since(4))).toEqual([5, 6, 7]);
    expect(seqs(ring.since(6))).toEqual([7]);
  });

  it("wraps around many times", () => {
    const ring = new Ring(4);
    for (let seq = 1; seq <= 1003; seq++) ring.push(item(seq));
    expect(seqs(ring.since(999))).toEqual([1000, 1001, 1002, 1003]);
    expect(ring.lastSeq).toBe(1003);
  });

  it("knows nothing before it was created", () => {
    const ring = new Ring(4, 10);
    ring.push(item(11));
    expect(ring.since(9)).toBeUndefined();
    expect(seqs(ring.since(10))).toEqual([11]);
  });

  it("rejects a zero capacity", () => {
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});
