import type { FastifyBaseLogger, FastifyRequest } from "fastify";
import { describeError } from "../errors.js";
import { firstString } from "../helpers.js";
import type { Hub } from "../hub/hub.js";
import type { EventSources } from "../sources/sources.js";
import { resolveInstance } from "../upstream/instance.js";
import { instanceNameProblem } from "../upstream/instance-name.js";
import type { Upstream } from "../upstream/upstream.js";

/** Different directory names remembered at most, while the shim has `/global/event` clients. */
const MAX_NAMED = 1000;

/** A directory name seen: the following of its instance (settled once it is followed), and the instance once known. */
interface Following {
  followed: Promise<void>;
  directory?: string;
}

/**
 * The shim's `/global/event` carries, once upstream's stream stops telling the truth, only
 * the events of instances the reconciler follows. A client of the global stream — opencode's web app, its TUI —
 * names the instances it works in on its REST calls (`?directory=`, `x-opencode-directory`;
 * no name: opencode's own directory):
 * each one named while such a client is connected is resolved through upstream, as the
 * client, and followed; each request naming it again counts as following it (the
 * reconciler lets it go when that and its activity are a while ago: `lastFollowed`).
 */
export class InstanceDiscovery {
  private readonly followings = new Map<string, Following>();

  constructor(
    private readonly sources: EventSources,
    private readonly hub: Hub,
    private readonly upstream: Upstream,
    private readonly log: FastifyBaseLogger,
  ) {
    sources.onInstanceReleased((directory) => {
      for (const [named, following] of this.followings)
        if (following.directory === directory) this.followings.delete(named);
    });
  }

  /**
   * Told of every proxied request. Cheap and synchronous unless the request names an
   * instance not yet followed: then it resolves once that instance is followed, so that
   * what the request changes upstream (a session it creates) is news to the reconciler.
   */
  notice(request: FastifyRequest): Promise<void> | undefined {
    if (this.hub.globalSubscriberCount === 0) {
      if (this.followings.size > 0) this.followings.clear();
      return undefined;
    }
    // A request that names no instance means opencode's own (upstream resolves it), which
    // is let go when quiet like any other and must come back when worked in again.
    const named =
      firstString((request.query as Record<string, unknown> | undefined)?.directory) ||
      firstString(request.headers["x-opencode-directory"]) ||
      "";
    if (instanceNameProblem(request)) return undefined;
    const following = this.followings.get(named);
    if (following?.directory !== undefined) {
      this.followAgain(following.directory);
      return undefined;
    }
    if (following || this.followings.size >= MAX_NAMED) return following?.followed;
    const entry: Following = { followed: Promise.resolve() };
    entry.followed = this.follow(named, entry, request);
    this.followings.set(named, entry);
    return entry.followed;
  }

  /** The instance is followed, and named again: followed now (and followed again, should it have been let go just now). */
  private followAgain(directory: string): void {
    this.sources.prepare(directory).catch(() => {}); // it retries on its own; the request goes on
  }

  /** Never rejects: the request goes on regardless, and a later one naming the instance tries again. */
  private async follow(named: string, entry: Following, request: FastifyRequest): Promise<void> {
    try {
      const resolution = await resolveInstance(this.upstream, request.url, request.headers);
      if (!resolution.ok) {
        this.followings.delete(named);
        return;
      }
      await this.sources.prepare(resolution.directory);
      entry.directory = resolution.directory;
    } catch (error) {
      this.followings.delete(named);
      this.log.debug({ reason: describeError(error) }, "could not follow an instance named by a request");
    }
  }
}
