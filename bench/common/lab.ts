import { type ModelServer, startModelServer } from "../../fixtures/model-server.js";
import { type OpencodeServer, startOpencode } from "../../fixtures/opencode.js";

const VERSION = "1.14.48";

/**
 * One real opencode (1.14.48, the broken release) with the offline model, shared by the
 * benchmarks that need one: started on first use, stopped at the end. Each benchmark
 * works in its own corner of it (see where each one creates its sessions).
 */
export class Lab {
  private started: Promise<{ model: ModelServer; opencode: OpencodeServer }> | undefined;

  readonly version = VERSION;

  async opencode(): Promise<OpencodeServer> {
    this.started ??= (async () => {
      const model = await startModelServer();
      try {
        return { model, opencode: await startOpencode({ version: VERSION, modelBaseURL: model.baseURL }) };
      } catch (error) {
        await model.close();
        throw error;
      }
    })();
    return (await this.started).opencode;
  }

  async close(): Promise<void> {
    const started = await this.started?.catch(() => undefined);
    if (!started) return;
    await started.opencode.stop();
    await started.model.close();
  }
}
