import type { FastifyInstance, FastifyServerOptions } from "fastify";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.js";

/** Query parameters that carry credentials (`?auth_token=` is opencode's), in any case. */
const SECRET_PARAMS = new Set(["auth_token", "token", "password", "ticket"]);
const QUERY_PARAM = /([?&;])([^=&#;]*)=([^&#;]*)/g;

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}

/** A URL with every credential in its query redacted, however its name is spelled (`%61uth_token` is opencode's `auth_token` too). */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(QUERY_PARAM, (param, separator: string, name: string) =>
    SECRET_PARAMS.has(decodedName(name)) ? `${separator}${name}=[redacted]` : param,
  );
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
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "headers.authorization",
        "headers.cookie",
        'headers["proxy-authorization"]',
      ],
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

/**
 * At `debug` and `trace`, one short line per request once it is answered — its method, its
 * target (credentials redacted), the status and the time taken — instead of Fastify's two.
 */
export function logEachAnswer(app: FastifyInstance, level: LogLevel): void {
  if (level !== "debug" && level !== "trace") return;
  app.addHook("onResponse", (request, reply, done) => {
    request.log.debug(
      { req: request, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      "request answered",
    );
    done();
  });
}
