import { spawn } from "node:child_process";
import { createOpencodeClient } from "@opencode-ai/sdk";
import { createOpencodeClient as createOpencodeClientV2 } from "@opencode-ai/sdk/v2";
import { describe, expect, it } from "vitest";
import { replyText } from "../../fixtures/model-server.js";
import { createSession, prompt } from "../../fixtures/opencode-rest.js";
import { e2eSetup } from "../helpers/e2e.js";
import { shellAnswers } from "../helpers/pty.js";
import { assistantText, props, sessionEvents } from "../helpers/session-events.js";

interface BusEvent {
  type: string;
  properties: Record<string, unknown> & { sessionID?: string };
}

/** Real clients, through the shim, in front of the real broken opencode 1.14.48. */
describe("clients of opencode 1.14.48 through the shim", () => {
  const e2e = e2eSetup({ version: "1.14.48", shim: true });

  /** An SDK event stream, once it is connected (its generator only connects when read). */
  async function connected(stream: AsyncGenerator<unknown>) {
    const first = await stream.next();
    expect((first.value as BusEvent).type).toBe("server.connected");
    return {
      async readUntil(done: (event: BusEvent) => boolean) {
        const seen: BusEvent[] = [];
        for (;;) {
          const next = await stream.next();
          if (next.done) throw new Error(`stream ended; saw ${seen.map((event) => event.type).join(", ")}`);
          seen.push(next.value as BusEvent);
          if (done(next.value as BusEvent)) return seen;
        }
      },
    };
  }

  it("the official SDK's client.event.subscribe() sees the prompt through to session.idle", async () => {
    const client = createOpencodeClient({ baseUrl: e2e.shim.url });
    const abort = new AbortController();
    e2e.afterTest(() => abort.abort());
    const events = await connected(
      (await client.event.subscribe({ signal: abort.signal })).stream as AsyncGenerator<unknown>,
    );
    const session = await createSession(e2e.shim.url);
    const reading = events.readUntil(
      (event) => event.type === "session.idle" && event.properties.sessionID === session.id,
    );
    await prompt(e2e.shim.url, session.id, "say hello");
    const seen = await reading;
    abort.abort();
    const types = seen
      .filter((event) => event.properties.sessionID === session.id)
      .map((event) => event.type);
    expect(types).toEqual(
      expect.arrayContaining(["session.created", "message.updated", "message.part.delta", "session.idle"]),
    );
  });

  it("the SDK's v2 client, scoped to a directory, sees that directory's prompt", async () => {
    const client = createOpencodeClientV2({ baseUrl: e2e.shim.url, directory: e2e.opencode.otherDir });
    const abort = new AbortController();
    e2e.afterTest(() => abort.abort());
    const events = await connected(
      (await client.event.subscribe(undefined, { signal: abort.signal })).stream as AsyncGenerator<unknown>,
    );
    const session = await createSession(e2e.shim.url, { directory: e2e.opencode.otherDir });
    const reading = events.readUntil(
      (event) => event.type === "session.idle" && event.properties.sessionID === session.id,
    );
    await prompt(e2e.shim.url, session.id, "[chunks:3]", { directory: e2e.opencode.otherDir });
    const seen = await reading;
    abort.abort();
    const created = seen.find((event) => event.type === "session.created");
    expect((created?.properties.info as { directory?: string } | undefined)?.directory).toBe(
      e2e.opencode.otherDir,
    );
  });

  it("a plain curl -N follows the prompt to session.idle", async () => {
    const curl = spawn("curl", ["-sN", "--max-time", "60", `${e2e.shim.url}/event`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    e2e.afterTest(() => curl.kill("SIGKILL"));
    let output = "";
    const seen = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => (output.includes(text) ? resolve() : undefined);
        curl.stdout?.on("data", (chunk) => {
          output += chunk;
          check();
        });
        curl.once("exit", (code) => reject(new Error(`curl exited (${code}) before "${text}": ${output}`)));
        check();
      });
    await seen('"type":"server.connected"');
    const session = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, session.id, "say hello");
    await seen(`"type":"session.idle","properties":{"sessionID":"${session.id}"}`);
    // What curl shows is opencode's framing, plus an id line per event.
    expect(output).toMatch(/^data: \{"id":"evt_[^"]+","type":"server.connected","properties":\{\}\}\n\n/);
    expect(output).toMatch(/\ndata: \{[^\n]*"type":"session.idle"[^\n]*\}\nid: [0-9a-f]+-\d+\n\n/);
    curl.kill("SIGTERM");
  });

  it("a PTY's WebSocket works through the shim", async () => {
    const created = await fetch(`${e2e.shim.url}/pty`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ command: "/bin/sh", title: "shim test" }),
    });
    expect(created.status).toBe(200);
    const pty = (await created.json()) as { id: string };
    await shellAnswers(`${e2e.shim.url.replace("http", "ws")}/pty/${pty.id}/connect`);
    await fetch(`${e2e.shim.url}/pty/${pty.id}`, { method: "DELETE" });
  });

  it("GET /global/event streams through the shim, frame by frame", async () => {
    const global = await e2e.open(`${e2e.shim.url}/global/event`);
    await global.waitFor(
      (event) => (event.json.payload as { type?: string } | undefined)?.type === "server.connected",
    );
    const session = await createSession(e2e.shim.url);
    const done = prompt(e2e.shim.url, session.id, "say hello");
    const idle = await global.waitFor((event) => {
      const payload = event.json.payload as BusEvent | undefined;
      return payload?.type === "session.idle" && payload.properties.sessionID === session.id;
    }, 60_000);
    expect(idle.json.directory).toBe(e2e.opencode.projectDir);
    await done;
    const deltas = global.events.filter(
      (event) => (event.json.payload as BusEvent | undefined)?.type === "message.part.delta",
    );
    expect(deltas.length).toBeGreaterThan(1);
  });

  it("ends streams on instance disposal like upstream, and a client that comes back gets the new instance", async () => {
    const first = await e2e.open(`${e2e.shim.url}/event`);
    await first.waitFor((event) => event.json.type === "server.connected");
    const disposed = await fetch(`${e2e.shim.url}/instance/dispose`, { method: "POST" });
    expect(disposed.status).toBe(200);
    await first.ended;
    expect(first.events.at(-1)?.json).toMatchObject({
      type: "server.instance.disposed",
      properties: { directory: e2e.opencode.projectDir },
    });

    const again = await e2e.open(`${e2e.shim.url}/event`, { "last-event-id": first.lastEventId ?? "" });
    await again.waitFor((event) => event.json.type === "server.connected");
    const session = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, session.id, "[chunks:4]");
    await again.waitFor(
      (event) => event.json.type === "session.idle" && props(event).sessionID === session.id,
      60_000,
    );
    expect(assistantText(sessionEvents(again.events, session.id)).final).toBe(replyText("[chunks:4]"));
  });

  it("ends streams when a config change disposes the instance (PATCH /config), like upstream", async () => {
    const direct = await e2e.open(`${e2e.opencode.url}/global/event`);
    const client = await e2e.open(`${e2e.shim.url}/event`);
    await client.waitFor((event) => event.json.type === "server.connected");
    const patched = await fetch(`${e2e.shim.url}/config`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(patched.status).toBe(200);
    await client.ended;
    expect(client.events.at(-1)?.json).toMatchObject({
      type: "server.instance.disposed",
      properties: { directory: e2e.opencode.projectDir },
    });
    // What upstream itself said on its own stream.
    await direct.waitFor(
      (event) => (event.json.payload as BusEvent | undefined)?.type === "server.instance.disposed",
      10_000,
      "upstream's server.instance.disposed",
    );
  });
});
