import type { FastifyPluginAsync } from "fastify";

/** `GET /shim/`: the live event view (a page served as-is, no build step). */
export const viewRoute: FastifyPluginAsync = async (app) => {
  app.get("/", async (_request, reply) =>
    reply.type("text/html").send("<!doctype html><title>opencode-event-shim</title>"),
  );
};
