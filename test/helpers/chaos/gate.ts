/**
 * Turns run side by side; a fault that must fall between turns (opencode restarted, an
 * instance disposed) waits until none runs, and holds new ones back while it acts.
 */
export class Gate {
  private running = 0;
  private closed: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  /** Runs a turn once no fault holds the gate. */
  async turn<T>(work: () => Promise<T>): Promise<T> {
    while (this.closed) await this.closed;
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      if (this.running === 0) this.drained?.();
    }
  }

  /** Runs `work` with no turn running, and none starting until it is done. */
  async between<T>(work: () => Promise<T>): Promise<T> {
    while (this.closed) await this.closed;
    let open!: () => void;
    this.closed = new Promise((resolve) => {
      open = resolve;
    });
    try {
      if (this.running > 0)
        await new Promise<void>((resolve) => {
          this.drained = resolve;
        });
      this.drained = undefined;
      return await work();
    } finally {
      this.closed = undefined;
      open();
    }
  }
}
