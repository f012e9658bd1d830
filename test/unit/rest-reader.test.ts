import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { UpstreamTimeout, UpstreamUnavailable } from "../../src/errors.js";
import { RestReader } from "../../src/sources/reconciler/rest-reader.js";
import { Upstream } from "../../src/upstream/upstream.js";

describe("the reconciler's reads", () => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  it("give up on a read upstream never answers after their own timeout, and the next read goes through (issue 21, seed 42)", async () => {
    const hung: ServerResponse[] = [];
    let first = true;
    const server = createServer((_request, response) => {
      if (first) {
        first = false;
        hung.push(response); // accepted, never answered: opencode's first read after a restart
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end("[]");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const upstream = new Upstream(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    closing.push(async () => {
      for (const response of hung) response.destroy();
      await upstream.close();
      await new Promise((resolve) => server.close(resolve));
    });
    const reader = new RestReader(upstream, "/work/project", () => {}, 300);
    const started = performance.now();
    await expect(reader.sessions()).rejects.toBeInstanceOf(UpstreamTimeout);
    expect(performance.now() - started).toBeLessThan(2_000);
    await expect(reader.sessions()).resolves.toEqual([]);
  });

  it("after upstream could not be reached, a read opencode leaves unanswered in its first moments is asked again at once (issue 21, seed 21)", async () => {
    const listen = (server: ReturnType<typeof createServer>, port: number) =>
      new Promise<number>((resolve) =>
        server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
      );
    const gone = createServer();
    const port = await listen(gone, 0);
    await new Promise((resolve) => gone.close(resolve));
    const upstream = new Upstream(new URL(`http://127.0.0.1:${port}`));
    const reader = new RestReader(upstream, "/work/project");
    await expect(reader.sessions()).rejects.toBeInstanceOf(UpstreamUnavailable);
    expect(upstream.regaining).toBe(true);

    // opencode again at the same address: the first request it gets is never answered.
    const hung: ServerResponse[] = [];
    const back = createServer((_request, response) => {
      if (hung.length === 0) {
        hung.push(response);
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end("[]");
    });
    await listen(back, port);
    closing.push(async () => {
      for (const response of hung) response.destroy();
      await upstream.close();
      await new Promise((resolve) => back.close(resolve));
    });
    // Without the short wait, this read would wait out its 5 s and fail.
    await expect(reader.sessions()).resolves.toEqual([]);
    expect(hung).toHaveLength(1);
    expect(upstream.regaining).toBe(false);
  });
});
