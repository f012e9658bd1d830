import type { OpencodeServer } from "../../../fixtures/opencode.js";
import type { Relay } from "../../../fixtures/relay.js";
import type { StreamFault } from "../../../fixtures/stream-faults.js";
import type { Random } from "../prng.js";
import { pause } from "./driver.js";
import type { Gate } from "./gate.js";

/** How upstream's stream misbehaves for a spell, and how often each is picked. */
const MODES = { honest: 25, mute: 20, lossy: 20, "drop-sync": 10, late: 10 } as const;
/** What happens at a moment, and how often each is picked. */
const EVENTS = { cut: 20, stall: 15, refused: 15, dispose: 20, restart: 15, none: 15 } as const;

/** One fault, when it began (ms, `performance.now()`), and what it was. */
export interface Fault {
  at: number;
  what: string;
  /** When opencode was back, for a restart: meanwhile nobody could read what it did. */
  until?: number;
}

export interface FaultOptions {
  relay: Relay;
  opencode: OpencodeServer;
  shimUrl: () => string;
  directories: string[];
  gate: Gate;
  running: () => boolean;
}

/**
 * Faults at random moments, in random order: upstream's stream mute, lossy, losing its
 * sync events or late for a spell; streams cut, stalled or refused; an instance disposed
 * through the shim and opencode killed and restarted, both between turns.
 */
export class Faults {
  readonly log: Fault[] = [];

  constructor(private readonly options: FaultOptions) {}

  /** The stream's mode, changed every few seconds. */
  async modes(random: Random): Promise<void> {
    const { relay, running } = this.options;
    while (running()) {
      const mode = random.weighted(MODES);
      const fault = this.streamFault(mode, random);
      relay.setStreamFault(fault);
      if (mode !== "honest") this.note(`stream ${describe(fault)}`);
      await pause(random.int(2_000, 8_000));
    }
    relay.setStreamFault({ kind: "honest" });
  }

  /** Cuts, stalls, refusals, disposals and restarts, every few seconds. */
  async events(random: Random): Promise<void> {
    const { relay, opencode, shimUrl, directories, gate, running } = this.options;
    while (running()) {
      await pause(random.int(2_000, 7_000));
      if (!running()) return;
      const event = random.weighted(EVENTS);
      switch (event) {
        case "cut":
          this.note("streams cut");
          relay.cutStreams();
          break;
        case "stall":
          this.note("streams stalled");
          relay.stallStreams();
          break;
        case "refused": {
          const ms = random.int(1_000, 5_000);
          this.note(`streams refused for ${ms} ms`);
          relay.blocked.add("/global/event");
          relay.cutStreams();
          await pause(ms);
          relay.blocked.delete("/global/event");
          break;
        }
        case "dispose": {
          const directory = random.pick(directories);
          await gate.between(async () => {
            this.note(`instance disposed (${directories.indexOf(directory)})`);
            const url = `${shimUrl()}/instance/dispose?directory=${encodeURIComponent(directory)}`;
            const response = await fetch(url, { method: "POST" });
            if (!response.ok) throw new Error(`POST /instance/dispose: ${response.status}`);
          });
          break;
        }
        case "restart":
          await gate.between(async () => {
            const fault = this.note("opencode restarted");
            await opencode.restart();
            fault.until = performance.now();
          });
          break;
        case "none":
          break;
      }
    }
  }

  private streamFault(mode: keyof typeof MODES, random: Random): StreamFault {
    switch (mode) {
      case "honest":
        return { kind: "honest" };
      case "mute":
        return { kind: "mute" };
      case "lossy":
        return { kind: "drop", percent: random.int(20, 70), seed: random.int(1, 1_000_000) };
      case "drop-sync":
        return { kind: "drop-sync" };
      case "late":
        return { kind: "delay", ms: random.int(500, 4_000) };
    }
  }

  private note(what: string): Fault {
    const fault = { at: performance.now(), what };
    this.log.push(fault);
    return fault;
  }
}

function describe(fault: StreamFault): string {
  switch (fault.kind) {
    case "drop":
      return `lossy ${fault.percent} %`;
    case "delay":
      return `late ${fault.ms} ms`;
    default:
      return fault.kind;
  }
}
