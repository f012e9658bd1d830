import { fileURLToPath } from "node:url";
import { type Child, launch, waitForLine } from "../common/process.js";
import type { Summary } from "../common/stats.js";

const PROGRAM = fileURLToPath(new URL("./readers.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** One phase's end, as the readers saw it. */
export interface PhaseResult {
  label: string;
  /** Whether every stream got the last measured tick. */
  complete: boolean;
  /** Measured ticks some subscriber never got, over the subscribers. */
  lost: number;
  /** Subscribers whose stream ended before the phase did. */
  dropped: number;
}

/** By label, pooled over its phases: deliveries matched with the direct client. */
export type ReadersSummary = Record<
  string,
  { deliveries: number; lost: number; dropped: number; added: Summary; emitToClient: Summary }
>;

export interface Readers extends Child {
  /** Starts a phase: ticks `first` … `end − 1` are measured, under `label`. */
  begin(label: string, first: number, end: number): Promise<void>;
  /** Adds `count` subscribers of `url` to the phase; resolves once each stream has started. */
  subscribe(url: string, count: number): Promise<void>;
  /** Resolves once every stream has got tick `n`. */
  reached(n: number): Promise<void>;
  /** Waits for the last measured tick, closes the phase's streams. */
  finish(): Promise<PhaseResult>;
  summary(): Promise<ReadersSummary>;
}

/**
 * Starts readers.ts in its own Node process: the measuring one, with its two
 * direct clients of `upstream` open, or, without `upstream`, a load process.
 */
export async function startReaders(upstream?: string): Promise<Readers> {
  const flags = upstream === undefined ? [] : ["--upstream", upstream];
  const child = launch(process.execPath, ["--import", "tsx", PROGRAM, ...flags], { cwd: ROOT });
  try {
    const { match } = await waitForLine(child, /listening on (http:\/\/\S+)/);
    const url = match[1] as string;
    const ask = async <T>(method: string, path: string, query: Record<string, string | number> = {}) => {
      const search = new URLSearchParams(
        Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
      );
      const response = await fetch(`${url}${path}?${search}`, { method });
      const body = (await response.json()) as T & { error?: string };
      if (!response.ok) throw new Error(`readers ${path}: ${body.error ?? response.status}`);
      return body;
    };
    return {
      ...child,
      async begin(label, first, end) {
        await ask("POST", "/phase", { label, first, end });
      },
      async subscribe(target, count) {
        if (count > 0) await ask("POST", "/subscribe", { url: target, count });
      },
      async reached(n) {
        await ask("POST", "/await", { n });
      },
      finish: () => ask<PhaseResult>("POST", "/finish"),
      summary: () => ask<ReadersSummary>("GET", "/summary"),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
