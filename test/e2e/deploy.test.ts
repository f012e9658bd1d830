import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { freePort } from "../../fixtures/free-port.js";
import {
  type OpencodeVersion,
  opencodeBinary,
  prepareOpencodeHome,
  recordPid,
} from "../../fixtures/opencode.js";
import { helpText } from "../../src/config.js";

// deploy/: the compose file and the Kubernetes sidecar. No Docker engine or cluster here: the
// files are parsed, checked against the shim's real flags and routes and opencode's real
// arguments, and then each setup's two containers are run as local processes with the files'
// own arguments, environment and volume layout (paths and ports moved to temp ones).

const root = new URL("../../", import.meta.url).pathname;
const deploy = join(root, "deploy");
const kubernetes = join(deploy, "kubernetes");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const shimHelp = helpText();
const HEALTH = "/shim/health";

// ---- the files, as parsed (the parts these tests read) ----

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  entrypoint?: string | string[];
  command?: string | string[];
  environment?: Record<string, string | number | null>;
  volumes?: string[];
  ports?: Array<string | number>;
  depends_on?: string[] | Record<string, unknown>;
}
interface ComposeFile {
  version?: unknown;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}
interface Probe {
  httpGet?: { path?: string; port?: number | string };
}
interface PodContainer {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
}
interface PodSpec {
  containers: PodContainer[];
  volumes?: Array<{ name: string }>;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  // Deployment
  spec?: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
    ports?: Array<{ port: number; targetPort?: number | string }>;
  };
  // Kustomization
  resources?: string[];
  images?: Array<{ name: string }>;
}

// ---- the images, from their Dockerfiles ----

interface Image {
  dockerfile: string;
  env: Record<string, string>;
  args: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  workdir: string;
  expose: string[];
}

/** The final stage of a Dockerfile: what a container of the image starts with. */
function readImage(dockerfile: string): Image {
  const lines = readFileSync(dockerfile, "utf8")
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const final = lines.slice(lines.findLastIndex((line) => /^FROM\s/i.test(line)));
  const all = (keyword: string) =>
    final
      .filter((line) => line.startsWith(`${keyword} `))
      .map((line) => line.slice(keyword.length + 1).trim());
  const pairs = (keyword: string) =>
    Object.fromEntries(
      all(keyword)
        .flatMap((args) => args.split(/\s+/))
        .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
    );
  return {
    dockerfile,
    env: pairs("ENV"),
    args: pairs("ARG"),
    entrypoint: JSON.parse(all("ENTRYPOINT").at(-1) ?? "[]"),
    cmd: JSON.parse(all("CMD").at(-1) ?? "[]"),
    workdir: all("WORKDIR").at(-1) ?? "/",
    expose: all("EXPOSE").flatMap((args) => args.split(/\s+/)),
  };
}

const shimDockerfile = join(root, "Dockerfile");
const opencodeDockerfile = join(deploy, "opencode.Dockerfile");
const opencodeImage = readImage(opencodeDockerfile);
/** The opencode build the examples' image installs, as the dev dependency that holds the same one. */
const opencodeBin = opencodeBinary(opencodeImage.args.OPENCODE_VERSION as OpencodeVersion);

// ---- opencode's own vocabulary ----

const scratchHome = mkdtempSync(join(tmpdir(), "shim-deploy-help-"));
/** `opencode serve --help` (yargs prints it on stderr). */
const serveHelp = (() => {
  const run = spawnSync(opencodeBin, ["serve", "--help"], {
    env: {
      PATH: process.env.PATH,
      HOME: scratchHome,
      XDG_DATA_HOME: scratchHome,
      XDG_CONFIG_HOME: scratchHome,
    },
    encoding: "utf8",
  });
  return `${run.stdout}${run.stderr}`;
})();
let binaryText: Buffer | undefined;
/** Whether the opencode binary mentions a variable name at all (it reads each one by name). */
const opencodeKnows = (name: string) => {
  binaryText ??= readFileSync(opencodeBin);
  return binaryText.includes(name);
};

// ---- both setups, as containers ----

/** A value of an environment variable: literal, from a Secret, or passed on from the user's shell. */
type EnvValue = { value: string } | { secret: string } | { passedOn: true };

interface Mount {
  volume: string;
  path: string;
  readOnly: boolean;
}

interface Container {
  name: string;
  image: Image;
  /** What runs: the image's entrypoint and command, or what the file puts instead. */
  argv: string[];
  /** The image's variables, then the file's. */
  env: Map<string, EnvValue>;
  /** Only what the file itself sets. */
  fileEnv: Map<string, EnvValue>;
  mounts: Mount[];
  /** Container ports the file opens to the outside (compose `ports`, a pod's `containerPort`s). */
  ports: number[];
}

interface Setup {
  shim: Container;
  opencode: Container;
  /** Names by which the shim reaches opencode. */
  opencodeHosts: string[];
}

function container(
  name: string,
  image: Image,
  fileEnv: Map<string, EnvValue>,
  entrypoint: string[] | undefined,
  args: string[] | undefined,
  mounts: Mount[],
  ports: number[],
): Container {
  const env = new Map<string, EnvValue>(Object.entries(image.env).map(([key, value]) => [key, { value }]));
  for (const [key, value] of fileEnv) env.set(key, value);
  const argv = [...(entrypoint ?? image.entrypoint), ...(args ?? (entrypoint ? [] : image.cmd))];
  return { name, image, argv, env, fileEnv, mounts, ports };
}

const literal = (env: Map<string, EnvValue>, name: string): string | undefined => {
  const value = env.get(name);
  return value && "value" in value ? value.value : undefined;
};

/** Which image is which: compose says what each image ref is built from. */
const composePath = join(deploy, "docker-compose.yml");
const compose = parse(readFileSync(composePath, "utf8")) as ComposeFile;
const builtFrom = new Map<string, string>(
  Object.values(compose.services).flatMap(
    ({ image, build }): Array<[string, string]> =>
      image && build
        ? [[image, resolve(deploy, build.context ?? ".", build.dockerfile ?? "Dockerfile")]]
        : [],
  ),
);
const imageOf = (ref: string) => {
  const dockerfile = builtFrom.get(ref);
  if (!dockerfile) throw new Error(`image ${ref}: no compose service builds it`);
  return readImage(dockerfile);
};

function composeSetup(): Setup {
  const asList = (value: string | string[] | undefined) =>
    typeof value === "string" ? value.split(/\s+/) : value;
  const containers = Object.entries(compose.services).map(([name, service]) => {
    const env = new Map<string, EnvValue>(
      Object.entries(service.environment ?? {}).map(([key, value]) => [
        key,
        // A variable without a value is passed on from the user's shell (or .env), else unset.
        value === null ? { passedOn: true } : { value: String(value) },
      ]),
    );
    const mounts = (service.volumes ?? []).map((entry) => {
      const [volume = "", path = "", mode] = entry.split(":");
      return { volume, path, readOnly: mode === "ro" };
    });
    const ports = (service.ports ?? []).map((entry) => Number(String(entry).split(":").at(-1)));
    return container(
      name,
      imageOf(String(service.image)),
      env,
      asList(service.entrypoint),
      asList(service.command),
      mounts,
      ports,
    );
  });
  const shim = containers.find((each) => each.image.dockerfile === shimDockerfile);
  const opencode = containers.find((each) => each.image.dockerfile === opencodeDockerfile);
  if (!shim || !opencode) throw new Error("compose: a shim and an opencode service");
  // Compose services reach each other by service name.
  return { shim, opencode, opencodeHosts: [opencode.name] };
}

const kubernetesFiles = readdirSync(kubernetes).filter((name) => /\.ya?ml$/.test(name));
const kubernetesDocs: Array<{ file: string; object: KubeObject }> = kubernetesFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(join(kubernetes, file), "utf8")).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
    return { file, object: document.toJS() };
  }),
);
const ofKind = (kind: string) =>
  kubernetesDocs.filter((doc) => doc.object?.kind === kind).map((doc) => doc.object);
const deployment: KubeObject = ofKind("Deployment")[0] ?? {};
const podSpec: PodSpec = deployment.spec?.template?.spec ?? { containers: [] };
const podLabels = deployment.spec?.template?.metadata?.labels ?? {};

function kubernetesSetup(): Setup {
  const containers = podSpec.containers.map((spec) => {
    const env = new Map<string, EnvValue>(
      (spec.env ?? []).map((entry) => {
        const secret = entry.valueFrom?.secretKeyRef;
        return [
          entry.name,
          secret ? { secret: `${secret.name}/${secret.key}` } : { value: String(entry.value) },
        ];
      }),
    );
    return container(
      spec.name,
      imageOf(spec.image),
      env,
      spec.command,
      spec.args,
      (spec.volumeMounts ?? []).map((mount) => ({
        volume: mount.name,
        path: mount.mountPath,
        readOnly: mount.readOnly === true,
      })),
      (spec.ports ?? []).map((port) => port.containerPort),
    );
  });
  const shim = containers.find((each) => each.image.dockerfile === shimDockerfile);
  const opencode = containers.find((each) => each.image.dockerfile === opencodeDockerfile);
  if (!shim || !opencode) throw new Error("the pod: a shim and an opencode container");
  // Containers of one pod share its network namespace.
  return { shim, opencode, opencodeHosts: ["127.0.0.1", "localhost"] };
}

/** The option a flag is given in argv (`--port 4096` or `--port=4096`). */
function option(argv: string[], flag: string): string | undefined {
  const index = argv.findIndex((word) => word === flag || word.startsWith(`${flag}=`));
  if (index < 0) return undefined;
  const word = argv[index] ?? "";
  return word.includes("=") ? word.slice(flag.length + 1) : argv[index + 1];
}

/** Where a container path lands: the volume mounted over it (the deepest mount) and the rest of the path. */
function onVolume(mounts: Mount[], path: string): { volume: string; rest: string } | undefined {
  const mount = mounts
    .filter((each) => path === each.path || path.startsWith(`${each.path.replace(/\/$/, "")}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
  return mount ? { volume: mount.volume, rest: posix.relative(mount.path, path) } : undefined;
}

/** opencode's log folder, as opencode computes it: `$XDG_DATA_HOME/opencode/log`. */
const opencodeLogDir = (opencode: Container) => {
  const dataHome = literal(opencode.env, "XDG_DATA_HOME");
  return dataHome ? posix.join(dataHome, "opencode", "log") : undefined;
};

// ---- running a setup here ----

interface Process {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function start(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Process {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const forget = recordPid(child.pid ?? 0);
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(killer);
      }
      forget();
    },
  };
}

/**
 * Runs the setup's opencode (the real binary of the image's version) and shim (this checkout's
 * dist/) side by side, as the file configures them. Each volume is a temp folder, mounted at
 * its container paths; each port the two use is swapped for a free one; the names by which
 * the shim reaches opencode, and 0.0.0.0, become 127.0.0.1. opencode also gets a throwaway
 * home with an offline model, so that it needs no network.
 */
async function runSetup(setup: Setup, password: string | undefined) {
  const scratch = mkdtempSync(join(tmpdir(), "shim-deploy-"));
  const home = prepareOpencodeHome({ modelBaseURL: "http://127.0.0.1:9/v1" }, "shim-deploy-oc");
  const ports = new Map<string, string>();
  for (const port of [option(setup.opencode.argv, "--port"), literal(setup.shim.env, "OPENCODE_SHIM_PORT")]) {
    if (port) ports.set(port, String(await freePort()));
  }
  const hosts = new Set([...setup.opencodeHosts, "0.0.0.0"]);
  const volumes = (name: string) => {
    const dir = join(scratch, "volumes", name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const localize = (owner: Container, value: string): string => {
    if (/^https?:\/\//.test(value)) {
      const url = new URL(value);
      if (hosts.has(url.hostname)) url.hostname = "127.0.0.1";
      url.port = ports.get(url.port) ?? url.port;
      return url.pathname === "/" ? url.origin : url.href;
    }
    if (ports.has(value)) return ports.get(value) ?? value;
    if (hosts.has(value)) return "127.0.0.1";
    const landing = value.startsWith("/") ? onVolume(owner.mounts, value) : undefined;
    return landing ? join(volumes(landing.volume), landing.rest) : value;
  };
  const environment = (owner: Container) =>
    Object.fromEntries(
      [...owner.env].flatMap(([key, value]): Array<[string, string]> => {
        if ("value" in value) return [[key, localize(owner, value.value)]];
        // A Secret, or the user's shell: the password if this run has one (the only such variable here).
        return password === undefined ? [] : [[key, password]];
      }),
    );
  const { opencode, shim } = setup;
  // opencode works in its image's WORKDIR: a volume's folder here, else the throwaway project.
  const opencodeWorkdir = onVolume(opencode.mounts, opencode.image.workdir)
    ? localize(opencode, opencode.image.workdir)
    : home.projectDir;
  mkdirSync(opencodeWorkdir, { recursive: true });
  const started: Process[] = [];
  try {
    started.push(
      start(
        opencodeBin,
        opencode.argv.slice(1).map((word) => localize(opencode, word)),
        opencodeWorkdir,
        { ...home.env, ...environment(opencode) },
      ),
    );
    // The shim image's WORKDIR holds this package, built: here, the checkout.
    const shimProcess = start(
      process.execPath,
      [join(root, shim.argv[1] ?? ""), ...shim.argv.slice(2).map((word) => localize(shim, word))],
      root,
      { PATH: process.env.PATH, HOME: home.env.HOME, ...environment(shim) },
    );
    started.push(shimProcess);
    const shimURL = `http://127.0.0.1:${ports.get(literal(shim.env, "OPENCODE_SHIM_PORT") ?? "")}`;
    const logDir = localize(shim, literal(shim.env, "OPENCODE_SHIM_LOG_DIR") ?? "");
    const deadline = Date.now() + 60_000;
    let health: { status: number; body: string } | undefined;
    let following: string | undefined;
    while (Date.now() < deadline && (health?.status !== 200 || !following)) {
      if (shimProcess.child.exitCode !== null) break;
      health = await fetch(`${shimURL}${HEALTH}`).then(
        async (response) => ({ status: response.status, body: await response.text() }),
        () => undefined,
      );
      // The shim's JSON log line: {"file": …, "msg": "following opencode's log"}.
      following = shimProcess
        .output()
        .split("\n")
        .filter((line) => line.includes("following opencode's log"))
        .map((line) => /"file":("(?:[^"\\]|\\.)*")/.exec(line)?.[1])
        .map((file) => (file ? (JSON.parse(file) as string) : undefined))
        .find(Boolean);
      await new Promise((done) => setTimeout(done, 250));
    }
    const unauthenticated = await fetch(`${shimURL}/path`).then(
      (response) => response.status,
      () => undefined,
    );
    return {
      health,
      following,
      logDir,
      unauthenticated,
      output: () => started.map((each) => each.output()).join("\n----\n"),
    };
  } finally {
    await Promise.all(started.map((each) => each.stop()));
    rmSync(scratch, { recursive: true, force: true });
    rmSync(home.root, { recursive: true, force: true });
  }
}

afterAll(() => rmSync(scratchHome, { recursive: true, force: true }));

// ---- what both setups must get right ----

describe.each([
  ["docker-compose.yml", composeSetup, undefined],
  ["kubernetes/", kubernetesSetup, "deploy-test-secret"],
] as const)("%s", (_name, makeSetup, password) => {
  const setup = makeSetup();
  const { shim, opencode } = setup;

  it("configures the shim with flags and variables the shim knows", () => {
    expect(shim.argv.slice(0, 2)).toEqual(["node", manifest.bin["opencode-event-shim"]]);
    for (const word of shim.argv.slice(2).filter((each) => each.startsWith("--"))) {
      expect(shimHelp, word).toContain(`  ${word.split("=")[0]} `);
    }
    for (const name of shim.fileEnv.keys()) {
      expect(name, "a shim or opencode-server variable").toMatch(/^OPENCODE_(SHIM|SERVER)_/);
      expect(shimHelp, name).toContain(name);
    }
    expect(literal(shim.env, "OPENCODE_SHIM_UPSTREAM"), "the shim is told where opencode is").toBeDefined();
  });

  it("runs opencode's server with arguments and variables this opencode knows", () => {
    expect(opencode.argv.slice(0, 2)).toEqual(["opencode", "serve"]);
    for (const word of opencode.argv.slice(2).filter((each) => each.startsWith("--"))) {
      expect(serveHelp, word).toContain(`${word.split("=")[0]} `);
    }
    for (const name of [...opencode.env.keys()].filter((each) => each.startsWith("OPENCODE_"))) {
      expect(opencodeKnows(name), name).toBe(true);
    }
  });

  it("lines the ports up: the shim's port is the one it listens on, exposes and publishes; opencode stays inside", () => {
    const port = literal(shim.env, "OPENCODE_SHIM_PORT");
    expect(port).toMatch(/^\d+$/);
    expect(literal(shim.env, "OPENCODE_SHIM_HOST")).toBe("0.0.0.0");
    expect(shim.image.expose).toEqual([port]);
    expect(shim.ports).toEqual([Number(port)]);
    expect(opencode.ports).toEqual([]);
    const upstream = new URL(literal(shim.env, "OPENCODE_SHIM_UPSTREAM") ?? "");
    expect(setup.opencodeHosts).toContain(upstream.hostname);
    expect(upstream.port).toBe(option(opencode.argv, "--port"));
    expect(upstream.pathname).toBe("/");
  });

  it("shares opencode's log folder: the volume opencode writes it to is the one the shim reads", () => {
    // Set where the file can be seen, not left to the image or to $HOME.
    expect(literal(opencode.fileEnv, "XDG_DATA_HOME")).toMatch(/^\//);
    const written = onVolume(opencode.mounts, opencodeLogDir(opencode) ?? "");
    const read = onVolume(shim.mounts, literal(shim.env, "OPENCODE_SHIM_LOG_DIR") ?? "");
    expect(written, "opencode's log is on a volume").toBeDefined();
    expect(read, "the shim's --log-dir is on a volume").toBeDefined();
    expect(read).toEqual(written);
    expect(opencode.mounts.find((mount) => mount.volume === written?.volume)?.readOnly).toBe(false);
  });

  it("gives the shim opencode's password whenever opencode has one", () => {
    const server = opencode.env.get("OPENCODE_SERVER_PASSWORD");
    expect(server, "the example shows where the password goes").toBeDefined();
    expect(shim.env.get("OPENCODE_SERVER_PASSWORD")).toEqual(server);
    expect(shim.env.get("OPENCODE_SERVER_USERNAME")).toEqual(opencode.env.get("OPENCODE_SERVER_USERNAME"));
  });

  it(`runs: the shim comes up healthy in front of opencode ${opencodeImage.args.OPENCODE_VERSION} and follows its log${password ? ", with a password" : ""}`, async () => {
    const run = await runSetup(setup, password);
    // The probes carry no credentials: with a password they get the status word, no details.
    expect(run.health?.status, `${run.health?.body}\n${run.output()}`).toBe(200);
    if (password) expect(JSON.parse(run.health?.body ?? "")).toEqual({ status: "ok" });
    else expect(JSON.parse(run.health?.body ?? "")).toHaveProperty("upstream");
    expect(run.following, run.output()).toBeDefined();
    expect(run.following?.startsWith(`${run.logDir}/`), `${run.following} in ${run.logDir}`).toBe(true);
    // Everything else passes through, opencode's password rules included.
    expect(run.unauthenticated).toBe(password ? 401 : 200);
  }, 120_000);
});

// ---- compose specifics ----

describe("docker-compose.yml", () => {
  it("builds every image from a Dockerfile that exists, and declares the volumes it mounts", () => {
    expect(compose.version, "the obsolete version key").toBeUndefined();
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.build, name).toBeDefined();
      const dockerfile = resolve(
        deploy,
        service.build?.context ?? ".",
        service.build?.dockerfile ?? "Dockerfile",
      );
      expect(existsSync(dockerfile), dockerfile).toBe(true);
      for (const entry of service.volumes ?? []) {
        const source = entry.split(":")[0] ?? "";
        if (!/^[./~$]/.test(source)) expect(Object.keys(compose.volumes ?? {}), source).toContain(source);
      }
    }
  });

  it("starts the shim after opencode", () => {
    const { shim, opencode } = composeSetup();
    const dependsOn = compose.services[shim.name]?.depends_on ?? [];
    expect(Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn)).toContain(opencode.name);
  });
});

// ---- Kubernetes specifics ----

describe("kubernetes/", () => {
  const setup = kubernetesSetup();
  const shimSpec = podSpec.containers.find((each) => each.name === setup.shim.name);
  const shimPort = Number(literal(setup.shim.env, "OPENCODE_SHIM_PORT"));
  /** A port of the shim's container, by number or by name. */
  const portOf = (reference: number | string | undefined) =>
    typeof reference === "number"
      ? reference
      : shimSpec?.ports?.find((port) => port.name === reference)?.containerPort;

  it("holds well-formed objects, all listed in kustomization.yaml", () => {
    for (const { file, object } of kubernetesDocs) {
      expect(object?.apiVersion, file).toBeTruthy();
      expect(object?.kind, file).toBeTruthy();
      if (object.kind !== "Kustomization") expect(object.metadata?.name, file).toBeTruthy();
    }
    const kustomization = ofKind("Kustomization")[0];
    expect(kustomization, "kustomization.yaml").toBeDefined();
    const others = kubernetesDocs.filter((doc) => doc.object.kind !== "Kustomization").map((doc) => doc.file);
    expect([...(kustomization?.resources ?? [])].sort()).toEqual([...new Set(others)].sort());
    // Its image overrides name images the pod uses.
    const names = podSpec.containers.map((each) => each.image.split(":")[0]);
    for (const image of kustomization?.images ?? []) expect(names).toContain(image.name);
  });

  it("runs opencode and the shim in one pod, non-root, on volumes the pod declares", () => {
    expect(ofKind("Deployment")).toHaveLength(1);
    const selector = deployment.spec?.selector?.matchLabels ?? {};
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    for (const [key, value] of Object.entries(selector)) expect(podLabels[key], key).toBe(value);
    expect(podSpec.containers).toHaveLength(2);
    expect(podSpec.securityContext?.runAsNonRoot).toBe(true);
    expect(podSpec.securityContext?.runAsUser).toBeGreaterThan(0);
    const declared = (podSpec.volumes ?? []).map((volume) => volume.name);
    for (const each of [setup.shim, setup.opencode]) {
      for (const mount of each.mounts)
        expect(declared, `${each.name}: ${mount.volume}`).toContain(mount.volume);
    }
    // opencode listens on the pod's loopback: only the shim can be reached from outside the pod.
    expect(option(setup.opencode.argv, "--hostname")).toBe("127.0.0.1");
  });

  it("probes the shim's /shim/health on the port it listens on", () => {
    expect(shimSpec?.readinessProbe, "readinessProbe").toBeDefined();
    expect(shimSpec?.livenessProbe, "livenessProbe").toBeDefined();
    for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"] as const) {
      const probe = shimSpec?.[kind];
      if (!probe) continue;
      expect(probe.httpGet?.path, kind).toBe(HEALTH);
      expect(portOf(probe.httpGet?.port), kind).toBe(shimPort);
    }
  });

  it("has a Service that selects the pod and leads to the shim's port, not opencode's", () => {
    const services = ofKind("Service");
    expect(services).toHaveLength(1);
    const spec = services[0]?.spec;
    expect(Object.keys(spec?.selector ?? {}).length).toBeGreaterThan(0);
    for (const [key, value] of Object.entries(spec?.selector ?? {})) expect(podLabels[key], key).toBe(value);
    expect(spec?.ports?.length).toBeGreaterThan(0);
    for (const port of spec?.ports ?? []) expect(portOf(port.targetPort ?? port.port)).toBe(shimPort);
  });
});
