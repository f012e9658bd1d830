import { describe, expect, it } from "vitest";
import { credentialsOf, letIn, needsNoCredentials } from "../../src/opencode/credentials.js";

const EXPECTED = { username: "opencode", password: "pw" };
const b64 = (text: string) => Buffer.from(text).toString("base64");
const GOOD = b64("opencode:pw"); // b3BlbmNvZGU6cHc=

const seen = (url: string, headers: Array<[string, string]> = [], method = "GET") => ({
  method,
  url,
  rawHeaders: headers.flat(),
});

/** opencode's reading of credentials, as measured on 1.14.48 and 1.15.0 (docs/opencode-answers.md). */
describe("credentials as opencode reads them", () => {
  it("takes the header's token whatever the scheme's case and the space after it, strictly decoded", () => {
    const table: Array<[string, boolean]> = [
      [`Basic ${GOOD}`, true],
      [`basic ${GOOD}`, true],
      [`BASIC ${GOOD}`, true],
      [`Basic\t${GOOD}`, true],
      [`Basic   ${GOOD}`, true],
      [`Basic ${GOOD.replace(/=$/, "")}`, false], // unpadded
      [`Basic${GOOD}`, false],
      [`Bearer ${GOOD}`, false],
      [`Basic ${GOOD}=`, false],
      [`Basic ${GOOD.replace("+", "-")}`, true], // (no + in this token: the same token)
      [`Basic ${b64("opencode:pw:x")}`, false],
      [`Basic ${b64("OPENCODE:pw")}`, false],
      [`Basic ${GOOD}, Basic ${GOOD}`, false],
      [`Basic b3BlbmNvZGU6cHd=`, true], // a non-canonical last group decodes the same
    ];
    for (const [header, expected] of table)
      expect(letIn(seen("/session", [["Authorization", header]]), EXPECTED), header).toBe(expected);
  });

  it("reads the last of repeated Authorization headers", () => {
    const bad = `Basic ${b64("opencode:no")}`;
    const good = `Basic ${GOOD}`;
    expect(
      letIn(
        seen("/", [
          ["Authorization", good],
          ["authorization", bad],
        ]),
        EXPECTED,
      ),
    ).toBe(false);
    expect(
      letIn(
        seen("/", [
          ["Authorization", bad],
          ["authorization", good],
        ]),
        EXPECTED,
      ),
    ).toBe(true);
  });

  it("prefers a non-empty auth_token (the first, however its name is percent-encoded) to the header", () => {
    const bad = b64("opencode:no");
    const header: Array<[string, string]> = [["Authorization", `Basic ${GOOD}`]];
    const table: Array<[string, Array<[string, string]>, boolean]> = [
      [`/?auth_token=${encodeURIComponent(GOOD)}`, [], true],
      [`/?%61uth_token=${encodeURIComponent(GOOD)}`, [], true],
      [`/?auth%5Ftoken=${encodeURIComponent(GOOD)}`, [], true],
      [`/?AUTH_TOKEN=${encodeURIComponent(GOOD)}`, [], false],
      [`/?auth_token=${GOOD}&auth_token=${bad}`, [], true],
      [`/?auth_token=${bad}&auth_token=${GOOD}`, [], false],
      [`/?auth_token=${bad}`, header, false],
      [`/?auth_token=`, header, true],
      [`/?auth_token=&auth_token=${GOOD}`, [], false],
      [`http://elsewhere.example/x?auth_token=${GOOD}`, [], true],
    ];
    for (const [url, headers, expected] of table)
      expect(letIn(seen(url, headers), EXPECTED), url).toBe(expected);
    expect(credentialsOf(seen(`/?auth_token=${GOOD}`))).toEqual(EXPECTED);
  });

  it("asks nothing of OPTIONS, the web app's manifest and icons, and a PTY's ticketed WebSocket", () => {
    const table: Array<[string, string, boolean]> = [
      ["OPTIONS", "/session", true],
      ["GET", "/site.webmanifest", true],
      ["GET", "/site.webmanifest?x=1", true],
      ["HEAD", "/site.webmanifest", false],
      ["GET", "/foo/../web-app-manifest-192x192.png", true],
      ["GET", "/Site.webmanifest", false],
      ["GET", "/pty/pty_1/connect?ticket=t", true],
      ["GET", "/pty/pty_1/connect?%74icket=t", true],
      ["GET", "/pty/pty_1/connect?ticket=", false],
      ["GET", "/pty/pty_1/connect/?ticket=t", false],
      ["GET", "/PTY/pty_1/connect?ticket=t", false],
      ["GET", "/", false],
    ];
    for (const [method, url, expected] of table)
      expect(needsNoCredentials(seen(url, [], method)), `${method} ${url}`).toBe(expected);
    expect(letIn(seen("/session"), undefined)).toBe(true);
  });
});
