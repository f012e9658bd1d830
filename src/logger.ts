import type { FastifyServerOptions } from "fastify";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.js";

/** Query parameters that carry credentials (`?auth_token=` is opencode's). */
const SECRET_QUERY = /([?&](?:auth_token|token|password)=)[^&#]*/gi;

function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, "$1[redacted]");
}

/**
 * Logs on stderr (stdout carries the "listening on" line) — JSON lines, or readable ones
 * for a terminal — with credentials never written.
 */
export function loggerOptions(
  level: LogLevel,
  format: "json" | "pretty" = "json",
): NonNullable<FastifyServerOptions["logger"]> {
  const stream =
    format === "pretty"
      ? pretty({
          destination: 2,
          colorize: process.stderr.isTTY,
          translateTime: "SYS:HH:MM:ss.l",
          ignore: "pid,hostname",
        })
      : process.stderr;
  return {
    level,
    stream,
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "headers.authorization", "headers.cookie"],
      censor: "[redacted]",
    },
    serializers: {
      req: (request: { method?: string; url?: string }) => ({
        method: request.method,
        url: redactUrl(request.url),
      }),
    },
  };
}
