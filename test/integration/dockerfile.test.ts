import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, posix } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { type FakeUpstream, startFakeUpstream } from "../../fixtures/fake-upstream.js";
import { freePort } from "../../fixtures/free-port.js";
import { recordPid } from "../../fixtures/opencode.js";
import { helpText } from "../../src/config.js";
import { eventually } from "../helpers/wait.js";

// There is no Docker engine here: these tests read the Dockerfiles, check what they refer to,
// and carry out their stages by hand in temp folders (COPY, WORKDIR, ENV, ARG, RUN), then run
// what the image would run.

const root = new URL("../../", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const lockfile = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
const lockPackages: Record<
  string,
  { name?: string; version?: string; dev?: boolean; dependencies?: object }
> = lockfile.packages;

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Stages of a Dockerfile: comment lines dropped, continuation lines joined. */
function parseDockerfile(path: string): Stage[] {
  const text = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  const stages: Stage[] = [];
  for (const line of text.split("\n").map((each) => each.trim())) {
    if (!line) continue;
    const keyword = line.split(/\s/, 1)[0]?.toUpperCase() ?? "";
    const args = line.slice(keyword.length).trim();
    if (keyword === "FROM") {
      const [base = "", as, name] = args.split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${path}: ${keyword} before FROM`);
      stage.instructions.push({ keyword, args });
    }
  }
  return stages;
}

const all = (stage: Stage, keyword: string) =>
  stage.instructions.filter((each) => each.keyword === keyword).map((each) => each.args);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);
/** `KEY=value` pairs of ENV or ARG instructions (no quoting is used in these files). */
const pairs = (stage: Stage, keyword: "ENV" | "ARG"): Record<string, string> =>
  Object.fromEntries(
    all(stage, keyword)
      .flatMap((args) => args.split(/\s+/))
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
const execForm = (args: string | undefined): string[] => JSON.parse(args ?? "null");

/** Context files a COPY names: every word but flags and the destination. */
const copySources = (stage: Stage) =>
  all(stage, "COPY")
    .filter((args) => !args.includes("--from="))
    .flatMap((args) =>
      args
        .split(/\s+/)
        .filter((word) => !word.startsWith("--"))
        .slice(0, -1),
    );

/** Runs a shell command without blocking this worker (vitest talks to it meanwhile). */
const sh = (command: string, options: { cwd: string; env: NodeJS.ProcessEnv }) =>
  promisify(execFile)("sh", ["-c", command], { ...options, maxBuffer: 64 * 1024 * 1024 });

/** The environment for a child npm: this process's, less what a parent `npm test` put there. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && !key.startsWith("OPENCODE_")),
  );
  return { ...env, ...extra };
}

/**
 * Carries out one stage in `fsRoot` (the image's `/`): COPY from the build context (or an
 * earlier stage's folder), WORKDIR, ENV, ARG and RUN (RUNs matching `skip` are left out).
 */
async function emulate(
  stage: Stage,
  fsRoot: string,
  stageRoots: Map<string, string>,
  skip?: RegExp,
): Promise<void> {
  let workdir = "/";
  const env: Record<string, string> = {};
  const at = (path: string) => join(fsRoot, posix.resolve(workdir, path));
  for (const { keyword, args } of stage.instructions) {
    if (keyword === "WORKDIR") {
      workdir = posix.resolve(workdir, args);
      mkdirSync(at("."), { recursive: true });
    } else if (keyword === "ENV" || keyword === "ARG") {
      Object.assign(env, pairs({ ...stage, instructions: [{ keyword, args }] }, keyword));
    } else if (keyword === "COPY") {
      const words = args.split(/\s+/);
      const from = /--from=(\S+)/.exec(args)?.[1];
      const paths = words.filter((word) => !word.startsWith("--"));
      const dest = paths.pop() ?? "";
      for (const source of paths) {
        const fromRoot = from ? stageRoots.get(from) : root;
        if (!fromRoot) throw new Error(`COPY --from=${from}: no such stage`);
        const path = join(fromRoot, source);
        // A folder's contents go into dest; a file goes into dest/ when dest is a folder.
        const into = statSync(path).isFile() && (dest.endsWith("/") || paths.length > 1);
        cpSync(path, into ? join(at(dest), basename(source)) : at(dest), { recursive: true });
      }
    } else if (keyword === "RUN" && !skip?.test(args)) {
      // Cleaning the npm cache here would clean this machine's.
      const command = args.replace(/&& npm cache clean --force/g, "");
      await sh(command, { cwd: at("."), env: cleanEnv(env) });
    }
  }
}

/** Top-level packages that only the dev dependencies need, by the lockfile. */
const devOnly = Object.entries(lockPackages)
  .filter(([path, entry]) => entry.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path))
  .map(([path]) => path.slice("node_modules/".length));
const installed = (dir: string) =>
  readdirSync(join(dir, "node_modules")).flatMap((name) =>
    name.startsWith("@")
      ? readdirSync(join(dir, "node_modules", name)).map((sub) => `${name}/${sub}`)
      : [name],
  );

/**
 * Minimal .dockerignore matching: patterns in order, the last that matches a path or one of its
 * parent folders decides; `!` re-includes; `*` stays within one path segment.
 */
function dockerIgnored(patterns: string[], path: string): boolean {
  const toRegExp = (glob: string) =>
    new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*\*/g, "\0")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, "[^/]")
        .replace(/\0/g, ".*")}$`,
    );
  const segments = path.split("/");
  const candidates = segments.map((_, index) => segments.slice(0, index + 1).join("/"));
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = posix.normalize((negated ? raw.slice(1) : raw).replace(/^\//, ""));
    if (candidates.some((candidate) => toRegExp(pattern).test(candidate))) ignored = !negated;
  }
  return ignored;
}

describe("Dockerfile (the shim's image)", () => {
  const stages = parseDockerfile(join(root, "Dockerfile"));
  const final = stages.at(-1) as Stage;
  const build = stages[0] as Stage;
  const finalEnv = pairs(final, "ENV");
  const port = Number(finalEnv.OPENCODE_SHIM_PORT);
  const healthcheck = last(final, "HEALTHCHECK") ?? "";
  const healthCommand = execForm(healthcheck.slice(healthcheck.indexOf("CMD ") + "CMD ".length));
  const scratch = mkdtempSync(join(tmpdir(), "shim-docker-"));
  const buildRoot = join(scratch, "build");
  const finalRoot = join(scratch, "final");
  /** The image's WORKDIR, as a folder here. */
  const app = join(finalRoot, last(final, "WORKDIR") ?? "/");
  let upstream: FakeUpstream | undefined;
  let shim: ChildProcess | undefined;
  afterAll(async () => {
    shim?.kill("SIGKILL");
    await upstream?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("builds in one stage and runs from another, both on a slim Node image the engines allow", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build.name).toBeDefined();
    const minimum = Number(/(\d+)/.exec(manifest.engines.node)?.[1]);
    for (const stage of stages) {
      const major = /^node:(\d+)-slim$/.exec(stage.base)?.[1];
      expect(major, stage.base).toBeDefined();
      expect(Number(major)).toBeGreaterThanOrEqual(minimum);
    }
    // The final stage takes the compiled code from the build stage, not a compiler of its own.
    expect(all(final, "COPY")).toContain(`--from=${build.name} /app/dist ./dist`);
    expect(all(final, "RUN").join("\n")).not.toMatch(/typescript|tsc/);
  });

  it("copies only files that exist and that .dockerignore lets into the build context", () => {
    const patterns = readFileSync(join(root, ".dockerignore"), "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"));
    const sources = stages.flatMap(copySources);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(root, source)), source).toBe(true);
      expect(dockerIgnored(patterns, source), `${source} is ignored`).toBe(false);
      if (statSync(join(root, source)).isDirectory()) {
        for (const file of readdirSync(join(root, source), { recursive: true, encoding: "utf8" })) {
          expect(dockerIgnored(patterns, `${source}/${file}`), `${source}/${file} is ignored`).toBe(false);
        }
      }
    }
    // The heavy and irrelevant stays out.
    for (const path of [
      "node_modules",
      "node_modules/opencode-1.14.48/bin/opencode",
      ".git",
      "dist",
      "test",
    ]) {
      expect(dockerIgnored(patterns, path), path).toBe(true);
    }
  });

  it("runs the package's own bin as a non-root user, on the port it exposes, with real settings", () => {
    expect(execForm(last(final, "ENTRYPOINT"))).toEqual(["node", manifest.bin["opencode-event-shim"]]);
    const user = last(final, "USER");
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(finalEnv.OPENCODE_SHIM_HOST).toBe("0.0.0.0");
    expect(all(final, "EXPOSE")).toEqual([String(port)]);
    const known = helpText();
    for (const name of Object.keys(finalEnv).filter((name) => name.startsWith("OPENCODE_"))) {
      expect(known, name).toContain(`env ${name}`);
    }
  });

  it("checks its health with node (slim images have no curl), at /shim/health on the exposed port", () => {
    expect(healthCommand[0]).toBe("node");
    const script = healthCommand.join(" ");
    expect(script).toContain("/shim/health");
    expect(script).toMatch(/process\.env\.OPENCODE_SHIM_PORT \|\| (\d+)/);
    expect(/process\.env\.OPENCODE_SHIM_PORT \|\| (\d+)/.exec(script)?.[1]).toBe(String(port));
    expect(healthcheck).toMatch(/--start-period=\d+s/);
  });

  it("installs with npm ci, as the lockfile pins every package, and builds dist/ with the lockfile's compiler", async () => {
    const installs = stages
      .flatMap((stage) => all(stage, "RUN"))
      .filter((run) => /\bnpm (ci|install|i)\b/.test(run));
    expect(installs.length).toBe(2);
    for (const run of installs) expect(run, "npm ci, never npm install").toMatch(/^npm ci\b/);
    expect(all(final, "RUN").join("\n")).toMatch(/npm ci --omit=dev/);
    await emulate(build, buildRoot, new Map());
    const buildApp = join(buildRoot, "app");
    expect(existsSync(join(buildApp, manifest.bin["opencode-event-shim"]))).toBe(true);
    expect(existsSync(join(buildApp, manifest.types))).toBe(true);
    const version = (name: string) =>
      JSON.parse(readFileSync(join(buildApp, "node_modules", name, "package.json"), "utf8")).version;
    expect(version("typescript")).toBe(lockPackages["node_modules/typescript"]?.version);
    expect(version("@types/node")).toBe(lockPackages["node_modules/@types/node"]?.version);
  }, 300_000);

  it("gives a runtime image with production dependencies only, the package's files, and a working CLI", async () => {
    await emulate(final, finalRoot, new Map([[build.name ?? "0", buildRoot]]));
    expect(installed(app).filter((name) => devOnly.includes(name))).toEqual([]);
    expect(installed(app)).toEqual(expect.arrayContaining(Object.keys(manifest.dependencies)));
    // What the npm package ships is in the image too (the page at /shim/ comes from public/).
    for (const entry of manifest.files as string[]) {
      expect(existsSync(join(app, entry)), entry).toBe(true);
      if (statSync(join(root, entry)).isDirectory() && entry !== "dist") {
        const files = readdirSync(join(root, entry), { recursive: true, encoding: "utf8" });
        for (const file of files) expect(existsSync(join(app, entry, file)), `${entry}/${file}`).toBe(true);
      }
    }
    const run = (...args: string[]) =>
      execFileSync(process.execPath, [...execForm(last(final, "ENTRYPOINT")).slice(1), ...args], {
        cwd: app,
        env: { PATH: process.env.PATH, ...finalEnv },
        encoding: "utf8",
      });
    expect(run("--help")).toContain("Usage: opencode-event-shim");
    expect(run("--version").trim()).toBe(manifest.version);
  }, 300_000);

  it.each([
    ["", undefined],
    [", in front of a password-protected opencode (the check has no credentials)", "health-check-secret"],
  ])(
    "has a HEALTHCHECK that passes while the shim is healthy and fails when it is not%s",
    async (_, password) => {
      expect(existsSync(join(app, "node_modules")), "the previous test builds the image").toBe(true);
      upstream = await startFakeUpstream({ password });
      const shimPort = await freePort();
      // Run as Docker would, but without blocking this process: the fake upstream lives in it.
      const healthy = () =>
        new Promise<boolean>((resolve) => {
          const check = spawn(process.execPath, healthCommand.slice(1), {
            env: { PATH: process.env.PATH, OPENCODE_SHIM_PORT: String(shimPort) },
            stdio: "ignore",
            timeout: 10_000,
          });
          check.once("exit", (code) => resolve(code === 0));
        });
      expect(await healthy()).toBe(false); // nothing listens yet
      shim = spawn(process.execPath, execForm(last(final, "ENTRYPOINT")).slice(1), {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          ...finalEnv,
          OPENCODE_SHIM_HOST: "127.0.0.1",
          OPENCODE_SHIM_PORT: String(shimPort),
          OPENCODE_SHIM_UPSTREAM: upstream.url,
          ...(password ? { OPENCODE_SERVER_PASSWORD: password } : {}),
        },
        stdio: "ignore",
      });
      const forget = recordPid(shim.pid ?? 0);
      try {
        await eventually(healthy, 30_000, "the health check to pass", 250);
        await upstream.close();
        upstream = undefined;
        await eventually(
          async () => !(await healthy()),
          30_000,
          "the health check to fail without opencode",
          250,
        );
      } finally {
        shim.kill("SIGTERM");
        await new Promise((resolve) => shim?.once("exit", resolve));
        forget();
      }
    },
    120_000,
  );
});

describe("deploy/opencode.Dockerfile (an opencode server image for the examples)", () => {
  const path = join(root, "deploy", "opencode.Dockerfile");
  const stages = parseDockerfile(path);
  const final = stages.at(-1) as Stage;
  const args = pairs(final, "ARG");
  const env = pairs(final, "ENV");
  const entrypoint = execForm(last(final, "ENTRYPOINT"));
  const cmd = execForm(last(final, "CMD"));
  /** The lockfile's copy of the package and version the image installs (a dev dependency alias). */
  const alias = Object.entries(lockPackages).find(
    ([, entry]) => entry.name === args.OPENCODE_PACKAGE && entry.version === args.OPENCODE_VERSION,
  )?.[0];
  const binary = join(root, alias ?? "missing", "bin", "opencode");
  const scratch = mkdtempSync(join(tmpdir(), "shim-opencode-image-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("installs an opencode build that exists, and links the binary where the package keeps it", () => {
    expect(stages.map((stage) => stage.base)).toEqual([expect.stringMatching(/^node:\d+-slim$/)]);
    expect(alias, `${args.OPENCODE_PACKAGE}@${args.OPENCODE_VERSION} in package-lock.json`).toBeDefined();
    expect(existsSync(binary)).toBe(true);
    const link = /ln -s "([^"]+)"/.exec(all(final, "RUN").join("\n"))?.[1] ?? "";
    const inPackage = /^\/opt\/opencode\/node_modules\/\$\{OPENCODE_PACKAGE\}\/(.+)$/.exec(link)?.[1];
    expect(inPackage, link).toBeDefined();
    expect(existsSync(join(root, alias ?? "missing", inPackage ?? "missing"))).toBe(true);
  });

  it("serves with arguments and variables that this opencode knows, as a non-root user", () => {
    expect(entrypoint).toEqual(["opencode"]);
    expect(cmd[0]).toBe("serve");
    // yargs prints help on stderr.
    const help = spawnSync(binary, ["serve", "--help"], {
      env: { PATH: process.env.PATH, HOME: scratch, XDG_DATA_HOME: scratch, XDG_CONFIG_HOME: scratch },
      encoding: "utf8",
    });
    const flags = `${help.stdout}${help.stderr}`;
    for (const flag of cmd.filter((word) => word.startsWith("--"))) expect(flags, flag).toContain(`${flag} `);
    const port = cmd[cmd.indexOf("--port") + 1];
    expect(all(final, "EXPOSE")).toEqual([port]);
    expect(cmd[cmd.indexOf("--hostname") + 1]).toBe("0.0.0.0");
    const strings = readFileSync(binary);
    for (const name of Object.keys(env).filter((name) => name.startsWith("OPENCODE_"))) {
      expect(strings.includes(name), name).toBe(true);
    }
    // Its data (and log) go to a folder made for the unprivileged user, who runs it.
    expect(env.XDG_DATA_HOME).toMatch(/^\//);
    const folders = `${env.XDG_DATA_HOME} ${last(final, "WORKDIR")}`;
    expect(all(final, "RUN")).toContain(`mkdir -p ${folders} && chown node:node ${folders}`);
    expect(last(final, "USER")).toBe("node");
  });

  it("its npm step gives a working opencode of the pinned version", async () => {
    // The npm step alone, with /opt and /usr/local/bin moved here (apt-get and chown need root).
    const fsRoot = join(scratch, "root");
    const bin = join(fsRoot, "usr", "local", "bin");
    mkdirSync(bin, { recursive: true });
    const step = all(final, "RUN").find((each) => each.startsWith("npm install")) ?? "";
    const command = step
      .replace(/&& npm cache clean --force/g, "")
      .replaceAll("/opt/opencode", join(fsRoot, "opt", "opencode"))
      .replaceAll("/usr/local/bin", bin);
    await sh(command, { cwd: fsRoot, env: cleanEnv({ ...args, PATH: `${bin}:${process.env.PATH}` }) });
    const version = execFileSync(join(bin, "opencode"), ["--version"], {
      env: { PATH: process.env.PATH, HOME: scratch },
      encoding: "utf8",
    });
    expect(version.trim()).toBe(args.OPENCODE_VERSION);
  }, 180_000);
});
