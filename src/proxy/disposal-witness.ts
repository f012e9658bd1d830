import type { FastifyRequest } from "fastify";
import { pathOf } from "../helpers.js";
import { INSTANCE_DISPOSED } from "../hub/frames.js";
import { eventId } from "../ids.js";
import type { Sink } from "../opencode/sink.js";
import { resolveInstance } from "../upstream/instance.js";
import type { Upstream } from "../upstream/upstream.js";

/** The calls that dispose instances: the one the request names, or (`global`) all of them. */
function disposes(request: FastifyRequest): "instance" | "global" | undefined {
  const path = pathOf(request.url);
  if (request.method === "POST" && path === "/instance/dispose") return "instance";
  if (request.method === "PATCH" && path === "/config") return "instance";
  if (request.method === "POST" && path === "/global/dispose") return "global";
  return undefined;
}

/**
 * The proxy as a witness: a call through the shim that disposes an instance is news to
 * that instance's clients even when no stream carries `server.instance.disposed` (the
 * reconciler feeds clients, or the stream lost it). Before such a call goes upstream, the
 * instance it names is asked of upstream (as the client); once upstream has answered it
 * with success, the disposal is published — once, whether or not the stream also tells it.
 */
export class DisposalWitness {
  private readonly named = new WeakMap<FastifyRequest, string[]>();

  constructor(
    private readonly sink: Sink,
    private readonly audience: { followedDirectories(): string[] },
    private readonly upstream: Upstream,
  ) {}

  /** Before a request goes upstream: a promise only for a disposing call. */
  before(request: FastifyRequest): Promise<void> | undefined {
    const kind = disposes(request);
    if (!kind) return undefined;
    return this.instancesOf(request, kind).then(
      (directories) => {
        this.named.set(request, directories);
        for (const directory of directories) this.sink.disposing(directory);
      },
      () => {}, // the call goes on regardless; upstream answers it
    );
  }

  /** After upstream answered: a disposing call that succeeded disposed its instances. */
  answered(request: FastifyRequest, statusCode: number): void {
    const directories = this.named.get(request);
    if (!directories || statusCode < 200 || statusCode >= 300) return;
    for (const directory of directories) {
      this.sink.publish({
        directory,
        origin: "proxy",
        payload: { id: eventId(), type: INSTANCE_DISPOSED, properties: { directory } },
      });
    }
  }

  private async instancesOf(request: FastifyRequest, kind: "instance" | "global"): Promise<string[]> {
    if (kind === "global") return this.audience.followedDirectories();
    const resolution = await resolveInstance(this.upstream, request.url, request.headers);
    return resolution.ok ? [resolution.directory] : [];
  }
}
