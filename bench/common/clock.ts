/**
 * Microseconds on the system's monotonic clock (process.hrtime is CLOCK_MONOTONIC),
 * which every process on the machine shares: a time stamped by one process can be
 * subtracted from a time read in another.
 */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
