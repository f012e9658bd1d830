import { describe, expect, it } from "vitest";
import { RecentIds } from "../../src/hub/dedupe.js";

describe("RecentIds", () => {
  it("accepts an id once", () => {
    const recent = new RecentIds(4);
    expect(recent.add("a")).toBe(true);
    expect(recent.add("a")).toBe(false);
    expect(recent.add("b")).toBe(true);
  });

  it("forgets the oldest ids beyond its capacity, and only those", () => {
    const recent = new RecentIds(3);
    for (const id of ["a", "b", "c", "d"]) recent.add(id);
    expect(recent.has("a")).toBe(false);
    expect(recent.has("b")).toBe(true);
    expect(recent.add("d")).toBe(false);
    expect(recent.add("a")).toBe(true);
  });
});
