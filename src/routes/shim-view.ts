import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";
import { pathOf, queryOf } from "../helpers.js";

/** The page's files, found from this module's own place: the same from src/ (tsx) and dist/. */
export const VIEW_ROOT = fileURLToPath(new URL("../../public/shim/", import.meta.url));

/**
 * The page may load nothing but its own files and talk to nothing but its own origin
 * (the shim's `/event` and `/global/event`): it works offline and cannot be made to
 * send events elsewhere.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * `GET /shim/`: the live event view — `public/shim/` served as it is (no build step).
 * Registered inside the `/shim` prefix, so `/` here is `/shim/`; `/shim` leads there.
 */
export const viewRoute: FastifyPluginAsync = async (app) => {
  // Relative URLs in the page (view.js, ../event) need the trailing slash.
  app.get("/", { prefixTrailingSlash: "no-slash" }, async (request, reply) => {
    const path = pathOf(request.url);
    const last = path.slice(path.lastIndexOf("/") + 1);
    return reply.redirect(`${last}/${queryOf(request.url)}`, 302);
  });

  await app.register(fastifyStatic, {
    root: VIEW_ROOT,
    prefix: "/",
    index: "index.html",
    decorateReply: false,
    redirect: false,
    dotfiles: "ignore",
    // Always revalidated (ETag), so an upgraded shim serves its new page at once.
    cacheControl: false,
    setHeaders: (reply) => {
      reply.header("cache-control", "no-cache");
      reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
      reply.header("x-content-type-options", "nosniff");
      reply.header("referrer-policy", "no-referrer");
    },
  });
};
