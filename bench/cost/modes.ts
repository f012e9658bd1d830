import type { StreamFault } from "../../fixtures/stream-faults.js";

export type ModeName = "honest" | "mute" | "lossy";

/** The stream behind the shim, falsified by the relay, and what the shim should say of it. */
export interface Mode {
  name: ModeName;
  /** As the tables print it. */
  label: string;
  fault: StreamFault;
  /** The health the shim should reach once the busy turns began: `degraded` when it works around a lying stream. */
  expect: "ok" | "degraded";
}

export const MODES: Mode[] = [
  { name: "honest", label: "honest", fault: { kind: "honest" }, expect: "ok" },
  { name: "mute", label: "mute", fault: { kind: "mute" }, expect: "degraded" },
  {
    name: "lossy",
    label: "lossy (drop 40 %, seed 7)",
    fault: { kind: "drop", percent: 40, seed: 7 },
    expect: "degraded",
  },
];
