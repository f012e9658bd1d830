import { fileURLToPath } from "node:url";
import { type Child, launch, waitForLine } from "../common/process.js";

const PROGRAM = fileURLToPath(new URL("./reference-relay.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ReferenceRelay extends Child {
  url: string;
  /** Its own time per event written (ms) since the last asking: chunk read → written to every subscriber. */
  ownTimes(): Promise<number[]>;
}

/** Starts reference-relay.ts in its own Node process, in front of `upstream`; ready once it follows upstream. */
export async function startReferenceRelay(upstream: string): Promise<ReferenceRelay> {
  const child = launch(process.execPath, ["--import", "tsx", PROGRAM, "--upstream", upstream], { cwd: ROOT });
  try {
    const { match } = await waitForLine(child, /listening on (http:\/\/\S+)/);
    const url = match[1] as string;
    const ownTimes = async () => {
      const response = await fetch(`${url}/own-time`);
      if (!response.ok) throw new Error(`reference relay GET /own-time answered ${response.status}`);
      return (await response.json()) as number[];
    };
    return { ...child, url, ownTimes };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
