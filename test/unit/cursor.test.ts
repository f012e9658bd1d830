import { describe, expect, it } from "vitest";
import { formatCursor, newEpoch, parseCursor } from "../../src/hub/cursor.js";

describe("cursor", () => {
  it("round-trips", () => {
    const epoch = newEpoch();
    expect(parseCursor(formatCursor(epoch, 42))).toEqual({ epoch, seq: 42 });
  });

  it("gives each hub its own epoch", () => {
    expect(newEpoch()).not.toBe(newEpoch());
  });

  it.each([
    undefined,
    "",
    "42",
    "abc",
    "abc-",
    "-5",
    "abc--5",
    "abc-1.5",
    "ABC-5",
    "abc-99999999999999999999",
    `${"a".repeat(100)}-1`,
    "evt_20b7750b0001Tu3Jic8pnyftVX",
    "abc-5\nid: x",
  ])("rejects %j", (value) => {
    expect(parseCursor(value)).toBeUndefined();
  });
});
