import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { targetAsOpencodeRoutes } from "../../src/routes/request-target.js";

const routed = (url: string) => targetAsOpencodeRoutes({ url } as IncomingMessage);

describe("a request target, routed as opencode routes it", () => {
  it("sends every spelling opencode's router takes for the rebuilt streams to the shim's own", () => {
    for (const spelling of ["/EVENT", "//event", "/event/", "/%65vent", "/Global/Event", "//global//event/"])
      expect(routed(`${spelling}?directory=/p`), spelling).toMatch(/^\/(global\/)?event\?directory=\/p$/);
  });

  it("routes an absolute-form target by its path and query, and reads // as /", () => {
    expect(routed("http://evil.example/session?x=1")).toBe("/session?x=1");
    expect(routed("//x")).toBe("/x");
    expect(routed("//session//status?a=b//c")).toBe("/session/status?a=b//c");
  });

  it("leaves every other target as it came", () => {
    for (const target of ["/session", "/SESSION/ses_1", "/a/../session", "*", "/event-x", "/file?path=//etc"])
      expect(routed(target), target).toBe(target);
  });
});
