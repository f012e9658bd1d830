import { describe, expect, it } from "vitest";
import {
  BadRequest,
  InternalError,
  isClientError,
  NotFound,
  TooManyClients,
  UpstreamTimeout,
  UpstreamUnavailable,
} from "../../src/errors.js";
import { shimPerTest } from "../helpers/shim-per-test.js";

const harness = shimPerTest();

describe("the client errors (src/errors.ts)", () => {
  it("each has its code, status and message", () => {
    const table = [
      [new BadRequest("directory contains a NUL character"), "BAD_REQUEST", 400],
      [new NotFound("GET", "/shim/x"), "NOT_FOUND", 404],
      [new TooManyClients(3), "TOO_MANY_CLIENTS", 503],
      [new UpstreamUnavailable("cannot reach upstream"), "UPSTREAM_UNAVAILABLE", 502],
      [new UpstreamTimeout("upstream did not answer GET /path in time"), "UPSTREAM_TIMEOUT", 504],
      [new InternalError("boom"), "INTERNAL_ERROR", 500],
    ] as const;
    for (const [error, code, status] of table) {
      expect(isClientError(error)).toBe(true);
      expect([error.code, error.statusCode]).toEqual([code, status]);
    }
    expect(new TooManyClients(3).message).toBe("the shim serves at most 3 event streams");
    expect(new NotFound("GET", "/shim/x").message).toMatch(/^the shim has no GET \/shim\/x: /);
    // A message carrying a % is told as it is, not read as a format.
    expect(new BadRequest("directory is 100%zz").message).toBe("directory is 100%zz");
    expect(isClientError(new Error("plain"))).toBe(false);
  });
});

describe("what a client gets for the shim's own errors", () => {
  it("a body of {error, message} with the table's status, for a URL no router can read and a /shim/ path that is none of its routes", async () => {
    const { shim } = await harness.start();
    const badUrl = await fetch(`${shim.url}/session/%zz`);
    expect(badUrl.status).toBe(400);
    expect(await badUrl.json()).toEqual({ error: "bad_request", message: expect.stringContaining("%zz") });
    for (const [method, path] of [
      ["GET", "/shim/no-such-page"],
      ["DELETE", "/shim/metrics"],
    ]) {
      const answer = await fetch(`${shim.url}${path}`, { method });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(await answer.json()).toEqual({
        error: "not_found",
        message: `the shim has no ${method} ${path}: its own routes are /shim/, /shim/health and /shim/metrics`,
      });
    }
    // Outside /shim/, a path the shim does not know is upstream's to answer.
    const upstreams = await fetch(`${shim.url}/no-such-route`);
    expect(await upstreams.json()).not.toHaveProperty("error", "not_found");
  });
});
