#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { startShim } from "./app.js";
import { parseCommandLine } from "./config.js";
import { messageOf } from "./errors.js";

const NAME = "opencode-event-shim";
const SHUTDOWN_GRACE_MS = 4_000;

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

async function main(): Promise<void> {
  const parsed = parseCommandLine(process.argv.slice(2), process.env);
  switch (parsed.kind) {
    case "help":
      process.stdout.write(parsed.text);
      return;
    case "version":
      process.stdout.write(`${version()}\n`);
      return;
    case "error":
      process.stderr.write(`${NAME}: ${parsed.message}\nTry '${NAME} --help'.\n`);
      process.exitCode = 2;
      return;
  }

  let shim: Awaited<ReturnType<typeof startShim>>;
  try {
    shim = await startShim(parsed.config);
  } catch (error) {
    process.stderr.write(`${NAME}: ${messageOf(error)}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${NAME} listening on ${shim.url}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    shim.app.log.info(`${signal}: shutting down`);
    const force = setTimeout(() => {
      shim.embedded?.killNow();
      process.exit(0);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    shim.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${NAME}: ${messageOf(error)}\n`);
  process.exit(1);
});
