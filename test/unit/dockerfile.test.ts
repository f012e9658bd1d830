import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { helpText } from "../../src/config.js";

const root = new URL("../../", import.meta.url).pathname;
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
/** Instructions, continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith("#"));
const finalStage = instructions.slice(instructions.findLastIndex((line) => line.startsWith("FROM ")));

// No Docker engine here: check what the file refers to, and run its commands by hand.
describe("Dockerfile", () => {
  const scratch = mkdtempSync(join(tmpdir(), "shim-docker-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("copies only files that exist", () => {
    for (const line of instructions.filter((line) => line.startsWith("COPY ") && !line.includes("--from"))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources) expect(existsSync(join(root, source)), source).toBe(true);
    }
  });

  it("runs the package's own bin as a non-root user, on the documented port", () => {
    const entrypoint = finalStage.find((line) => line.startsWith("ENTRYPOINT "));
    expect(JSON.parse(entrypoint?.slice("ENTRYPOINT ".length) ?? "[]")).toEqual([
      "node",
      manifest.bin["opencode-event-shim"],
    ]);
    const user = finalStage.find((line) => line.startsWith("USER "))?.split(/\s+/)[1];
    expect(user).toBeDefined();
    expect(user).not.toBe("root");
    const env = finalStage.find((line) => line.startsWith("ENV ")) ?? "";
    const port = /OPENCODE_SHIM_PORT=(\d+)/.exec(env)?.[1];
    expect(finalStage).toContain(`EXPOSE ${port}`);
    for (const name of env.match(/OPENCODE_SHIM_[A-Z_]+/g) ?? []) expect(helpText()).toContain(name);
  });

  it("builds with the project's own TypeScript major", () => {
    const pinned = /typescript@(\d+)/.exec(dockerfile)?.[1];
    expect(manifest.devDependencies.typescript).toMatch(new RegExp(`^\\^?${pinned}\\.`));
  });

  it("gives a runtime stage that runs with production dependencies only", () => {
    for (const file of ["package.json", "package-lock.json"]) cpSync(join(root, file), join(scratch, file));
    cpSync(join(root, "dist"), join(scratch, "dist"), { recursive: true });
    const install = finalStage.find((line) => line.startsWith("RUN npm install"))?.slice("RUN ".length) ?? "";
    expect(install).toContain("--omit=dev");
    execFileSync("sh", ["-c", install.replace(/&& npm cache clean --force/, "")], {
      cwd: scratch,
      stdio: "ignore",
    });
    expect(existsSync(join(scratch, "node_modules", "opencode-1.14.48"))).toBe(false);
    const help = execFileSync(process.execPath, ["dist/cli.js", "--help"], {
      cwd: scratch,
      encoding: "utf8",
    });
    expect(help).toContain("Usage: opencode-event-shim");
  }, 180_000);
});
