import type { Relay } from "../../fixtures/relay.js";
import { sleep } from "../common/clock.js";
import { CpuMeter, MachineCpuMeter } from "../common/process.js";

/** What opencode gave over one window. */
export interface UpstreamUse {
  /** opencode's CPU, a share of one core (1 = a whole core). */
  cpu: number;
  /** The shim's CPU, a share of one core; undefined without the shim. */
  shimCpu: number | undefined;
  /** How busy the whole machine was, in cores: how far to trust `cpu`. */
  machineCores: number;
  /** Requests through the relay (the shim's), per second; 0 without one. */
  requestsPerSecond: number;
  /** Body bytes of those answers, event streams left out, KiB per second. */
  restKiBPerSecond: number;
  /** Bytes of upstream's event stream through the relay, KiB per second (a direct client reads as much). */
  streamKiBPerSecond: number;
}

/**
 * opencode's CPU (its process, from /proc) over `seconds`, and what passed through the
 * relay meanwhile, with the shim's own CPU, if the scene has a shim in front.
 */
export async function measureUpstream(
  opencodePid: number,
  shim: { pid: number; relay: Relay } | undefined,
  seconds: number,
): Promise<UpstreamUse> {
  const relay = shim?.relay;
  const cpu = new CpuMeter([opencodePid]);
  const shimCpu = shim ? new CpuMeter([shim.pid]) : undefined;
  const machine = new MachineCpuMeter();
  const requestsBefore = relay?.requests.length ?? 0;
  const restBefore = relay?.bytes.rest ?? 0;
  const streamBefore = relay?.bytes.stream ?? 0;
  const startedMs = performance.now();
  cpu.start();
  shimCpu?.start();
  machine.start();
  await sleep(seconds * 1000);
  const opencodeCpu = cpu.stop().share;
  const shimShare = shimCpu?.stop().share;
  const machineCores = machine.stop();
  const elapsed = (performance.now() - startedMs) / 1000;
  return {
    cpu: opencodeCpu,
    shimCpu: shimShare,
    machineCores,
    requestsPerSecond: ((relay?.requests.length ?? 0) - requestsBefore) / elapsed,
    restKiBPerSecond: ((relay?.bytes.rest ?? 0) - restBefore) / 1024 / elapsed,
    streamKiBPerSecond: ((relay?.bytes.stream ?? 0) - streamBefore) / 1024 / elapsed,
  };
}

/**
 * Waits until opencode has used under `share` of a core for a whole second (it has work of
 * its own after turns and forks), for at most `timeoutMs`; resolves with the last second's share.
 */
export async function untilQuiet(opencodePid: number, share: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const cpu = new CpuMeter([opencodePid]);
    cpu.start();
    await sleep(1000);
    const last = cpu.stop().share;
    if (last < share || performance.now() > deadline) return last;
  }
}
