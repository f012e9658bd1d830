import type { OpencodeServer } from "../../fixtures/opencode.js";
import { createSession, prompt, sessionCount } from "../../fixtures/opencode-rest.js";
import type { BenchContext } from "../common/context.js";
import { startNginx } from "../common/nginx.js";
import { type Child, CpuMeter, processTree, startShim } from "../common/process.js";
import { type Cell, count, ms, percent, ratio } from "../common/report.js";
import { median } from "../common/stats.js";
import { wrk } from "./wrk.js";

const TARGETS = ["direct", "shim", "nginx"] as const;
type Target = (typeof TARGETS)[number];
const CONNECTIONS = 10;
/** The wide rows (issue 13): GET /path and GET /session at 32 connections, the shim against nginx only. */
const WIDE_CONNECTIONS = 32;
const WIDE_TARGETS = ["shim", "nginx"] as const;
const WIDE_ROUNDS = 3;

interface Route {
  name: string;
  path: string;
}

/** One wrk run, and what the processes behind it used meanwhile. */
interface Round {
  perSecond: number;
  p50Us: number;
  p99Us: number;
  errors: number;
  bytesPerRequest: number;
  /** The proxy's CPU time per request (µs); undefined going direct. */
  proxyCpuUs: number | undefined;
  /** opencode's CPU, as a share of one core. */
  opencodeCpu: number;
}

/** The scene in opencode's own project: some sessions, and one session with a long message list. */
async function routes(opencode: OpencodeServer, sessions: number, prompts: number): Promise<Route[]> {
  const base = opencode.url;
  const project = { directory: opencode.projectDir };
  const present = await sessionCount(base, project);
  for (let i = present; i < sessions - 1; i++) await createSession(base, project);
  const long = (await createSession(base, project)).id;
  for (let i = 0; i < prompts; i++) await prompt(base, long, `[chunks:200][delay:0] reply ${i}`, project);
  return [
    { name: "GET /path", path: "/path" },
    { name: `GET /session (${await sessionCount(base, project)} sessions)`, path: "/session" },
    { name: `GET /session/{id}/message (${prompts * 2} messages)`, path: `/session/${long}/message` },
  ];
}

async function measure(
  url: string,
  seconds: number,
  proxy: number[] | undefined,
  opencode: number[],
  connections = CONNECTIONS,
) {
  const proxyCpu = proxy && new CpuMeter(proxy);
  const opencodeCpu = new CpuMeter(opencode);
  proxyCpu?.start();
  opencodeCpu.start();
  const result = await wrk(url, { seconds, connections });
  const proxySeconds = proxyCpu?.stop().seconds;
  return {
    ...result,
    proxyCpuUs: proxySeconds === undefined ? undefined : (proxySeconds * 1e6) / result.requests,
    opencodeCpu: opencodeCpu.stop().share,
  } satisfies Round;
}

function medianOf(rounds: Round[], pick: (round: Round) => number | undefined): number {
  const values = rounds.map(pick).filter((value): value is number => value !== undefined);
  return values.length ? median(values) : Number.NaN;
}

/**
 * REST passthrough: wrk against real opencode directly, through the shim, and through
 * nginx as a plain reverse proxy, route by route, the three targets taking turns round
 * after round so that the machine's drift touches them alike; medians are reported.
 */
export async function runRest(context: BenchContext): Promise<void> {
  const seconds = context.quick ? 1 : 2;
  const rounds = context.quick ? 1 : 5;
  const opencode = await context.lab.opencode();
  const children: Child[] = [];
  const results = new Map<string, Round[]>();
  const wide = new Map<string, Round[]>();
  const wideRounds = context.quick ? 1 : WIDE_ROUNDS;
  const wideSeconds = context.quick ? 1 : 3;
  let scene: Route[];
  try {
    scene = await routes(opencode, context.quick ? 5 : 20, context.quick ? 3 : 20);
    const shim = await startShim(opencode.url);
    children.push(shim);
    const nginx = await startNginx(opencode.url, "/path");
    children.push(nginx);
    const targets: Record<Target, { base: string; proxy: number[] | undefined }> = {
      direct: { base: opencode.url, proxy: undefined },
      shim: { base: shim.url, proxy: [shim.pid] },
      nginx: { base: nginx.url, proxy: processTree(nginx.pid) },
    };
    const opencodeProcesses = processTree(opencode.pid);
    for (const route of scene) {
      for (const target of TARGETS)
        await wrk(`${targets[target].base}${route.path}`, { seconds: 1, connections: CONNECTIONS });
      for (let round = 0; round < rounds; round++) {
        for (const target of TARGETS) {
          const { base, proxy } = targets[target];
          const key = `${route.name} ${target}`;
          results.set(key, [
            ...(results.get(key) ?? []),
            await measure(`${base}${route.path}`, seconds, proxy, opencodeProcesses),
          ]);
        }
      }
      process.stdout.write(`  ${route.name}: done\n`);
    }
    // The wide rows: GET /path and GET /session at 32 connections, shim and nginx taking turns.
    for (const route of scene.slice(0, 2)) {
      for (const target of WIDE_TARGETS)
        await wrk(`${targets[target].base}${route.path}`, { seconds: 1, connections: WIDE_CONNECTIONS });
      for (let round = 0; round < wideRounds; round++) {
        for (const target of round % 2 === 0 ? WIDE_TARGETS : [...WIDE_TARGETS].reverse()) {
          const { base, proxy } = targets[target];
          const key = `${route.name} ${target}`;
          wide.set(key, [
            ...(wide.get(key) ?? []),
            await measure(`${base}${route.path}`, wideSeconds, proxy, opencodeProcesses, WIDE_CONNECTIONS),
          ]);
        }
      }
      process.stdout.write(`  ${route.name} at ${WIDE_CONNECTIONS} connections: done\n`);
    }
  } finally {
    for (const child of children) await child.stop();
  }

  const rows: Cell[][] = [];
  for (const route of scene) {
    const of = (target: Target) => results.get(`${route.name} ${target}`) ?? [];
    const perSecond = (target: Target) => medianOf(of(target), (round) => round.perSecond);
    const p99 = (target: Target) => medianOf(of(target), (round) => round.p99Us);
    for (const target of TARGETS) {
      const runs = of(target);
      rows.push([
        route.name,
        target,
        `${(medianOf(runs, (round) => round.bytesPerRequest) / 1024).toFixed(1)} KiB`,
        count(perSecond(target)),
        ms(medianOf(runs, (round) => round.p50Us)),
        ms(p99(target)),
        ratio(perSecond(target) / perSecond("direct")),
        ratio(perSecond(target) / perSecond("nginx")),
        ratio(p99(target) / p99("nginx")),
        target === "direct" ? "–" : count(medianOf(runs, (round) => round.proxyCpuUs)),
        percent(
          medianOf(runs, (round) => round.opencodeCpu),
          0,
        ),
        runs.reduce((sum, round) => sum + round.errors, 0),
      ]);
    }
    const shimRatio = perSecond("shim") / perSecond("nginx");
    const p99Ratio = p99("shim") / p99("nginx");
    context.report.verdict({
      benchmark: "rest",
      target: `${route.name}: shim ≥ 0.8× nginx's requests/s, p99 ≤ 1.5× nginx's`,
      measured: `${ratio(shimRatio)} requests/s, ${ratio(p99Ratio)} p99`,
      met: shimRatio >= 0.8 && p99Ratio <= 1.5 && of("shim").every((round) => round.errors === 0),
    });
  }
  context.report.table({
    title: `REST passthrough (wrk, 1 thread, ${CONNECTIONS} connections, ${rounds} rounds of ${seconds} s, medians)`,
    columns: [
      "route",
      "target",
      "response",
      "requests/s",
      "p50 (ms)",
      "p99 (ms)",
      "requests/s vs direct",
      "requests/s vs nginx",
      "p99 vs nginx",
      "proxy CPU per request (µs)",
      "opencode CPU",
      "errors",
    ],
    rows,
    notes: [
      `Upstream: opencode ${context.lab.version}. nginx: 1 worker process, keep-alive to upstream, default buffering.`,
      "response = bytes per response as wrk counts them (headers included). CPU: from /proc, over each wrk run; opencode's as a share of one core.",
    ],
  });
  wideTable(context, scene.slice(0, 2), wide, wideRounds, wideSeconds);
}

/** The wide rows' table and verdicts: the shim against nginx at 32 connections. */
function wideTable(
  context: BenchContext,
  routes: Route[],
  wide: Map<string, Round[]>,
  rounds: number,
  seconds: number,
): void {
  const rows: Cell[][] = [];
  for (const route of routes) {
    const of = (target: Target) => wide.get(`${route.name} ${target}`) ?? [];
    const perSecond = (target: Target) => medianOf(of(target), (round) => round.perSecond);
    for (const target of WIDE_TARGETS) {
      const runs = of(target);
      rows.push([
        route.name,
        target,
        count(perSecond(target)),
        runs.map((round) => count(round.perSecond)).join(", "),
        ms(medianOf(runs, (round) => round.p50Us)),
        ms(medianOf(runs, (round) => round.p99Us)),
        ratio(perSecond(target) / perSecond("nginx")),
        count(medianOf(runs, (round) => round.proxyCpuUs)),
        percent(
          medianOf(runs, (round) => round.opencodeCpu),
          0,
        ),
        runs.reduce((sum, round) => sum + round.errors, 0),
      ]);
    }
    const shimRatio = perSecond("shim") / perSecond("nginx");
    context.report.verdict({
      benchmark: "rest",
      target: `${route.name} at ${WIDE_CONNECTIONS} connections: shim ≥ 0.95× nginx's requests/s`,
      measured: `${ratio(shimRatio)} (${count(perSecond("shim"))} vs ${count(perSecond("nginx"))})`,
      met: shimRatio >= 0.95 && of("shim").every((round) => round.errors === 0),
    });
  }
  context.report.table({
    title: `REST at ${WIDE_CONNECTIONS} connections (wrk, 1 thread, ${rounds} round${rounds === 1 ? "" : "s"} of ${seconds} s, medians)`,
    columns: [
      "route",
      "target",
      "requests/s",
      "requests/s by round",
      "p50 (ms)",
      "p99 (ms)",
      "requests/s vs nginx",
      "proxy CPU per request (µs)",
      "opencode CPU",
      "errors",
    ],
    rows,
    notes: [
      "The same opencode, shim and nginx as the table above, after it; first 1 s each as warm-up, then the shim and nginx take turns, every other round in reverse order.",
    ],
  });
}
