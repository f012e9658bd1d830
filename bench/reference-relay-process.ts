import { fileURLToPath } from "node:url";
import { type Child, launch, waitForLine } from "./process.js";

const PROGRAM = fileURLToPath(new URL("./reference-relay.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface ReferenceRelay extends Child {
  url: string;
}

/** Starts reference-relay.ts in its own Node process, in front of `upstream`; ready once it follows upstream. */
export async function startReferenceRelay(upstream: string): Promise<ReferenceRelay> {
  const child = launch(process.execPath, ["--import", "tsx", PROGRAM, "--upstream", upstream], { cwd: ROOT });
  try {
    const { match } = await waitForLine(child, /listening on (http:\/\/\S+)/);
    return { ...child, url: match[1] as string };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
