import type { FastifyServerOptions } from "fastify";
import type { LogLevel } from "./config.js";

/** Query parameters that carry credentials (`?auth_token=` is opencode's). */
const SECRET_QUERY = /([?&](?:auth_token|token|password)=)[^&#]*/gi;

export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, "$1[redacted]");
}

/** JSON logs on stderr (stdout carries the "listening on" line), credentials never written. */
export function loggerOptions(level: LogLevel): NonNullable<FastifyServerOptions["logger"]> {
  return {
    level,
    stream: process.stderr,
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
