import type { BusyScene } from "./busy-work.js";
import type { Mode, ModeName } from "./modes.js";
import type { Measured } from "./window.js";

/** One row: the same busy sessions doing the same, measured with the shim in front and without it. */
export interface CostRow {
  mode: Mode;
  scene: BusyScene;
  busy: number;
  withShim: Measured;
  without: Measured;
}

/** What the shim adds to opencode's CPU, per busy session (a share of one core). */
export function cpuPerSession(row: CostRow): number {
  return (row.withShim.cpu - row.without.cpu) / row.busy;
}

/** What the shim reads from opencode, KiB a second per busy session. */
export function kibPerSession(row: CostRow): number {
  return row.withShim.restKiBPerSecond / row.busy;
}

/** Issue 22's targets: silent spells only, side by side with the same scene without the shim. */
export interface Target {
  mode: ModeName;
  busy: readonly number[];
  /** Share of one core per busy session, over opencode without the shim. */
  cpuPerSession: number;
  kibPerSession: number;
}

export const TARGETS: readonly Target[] = [
  { mode: "honest", busy: [4, 16], cpuPerSession: 0.005, kibPerSession: 8 },
  { mode: "mute", busy: [1, 4, 16], cpuPerSession: 0.015, kibPerSession: 32 },
];

export function targetOf(row: CostRow): Target | undefined {
  if (row.scene !== "silent") return undefined;
  return TARGETS.find((target) => target.mode === row.mode.name && target.busy.includes(row.busy));
}

export function meets(row: CostRow, target: Target): boolean {
  return cpuPerSession(row) <= target.cpuPerSession && kibPerSession(row) <= target.kibPerSession;
}
