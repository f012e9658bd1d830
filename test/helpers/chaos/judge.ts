import { isDeepStrictEqual } from "node:util";
import { call } from "../../../fixtures/opencode-rest.js";
import type { ReceivedEvent } from "../../../fixtures/sse-client.js";
import { restStateOf, stateOf, toldTwice } from "../client-state.js";
import { props, sessionEvents } from "../session-events.js";
import type { ChaosClient } from "./clients.js";
import type { Driven, Turn } from "./driver.js";
import type { Fault } from "./faults.js";

export interface Verdict {
  /** Where a client's view disagrees with REST or the promise, one line each. */
  problems: string[];
  /** Turn ends that reached a client later than the bound. */
  late: string[];
  /** How long after its turn ended (or the client came back) each client got each turn's session.idle (ms). */
  lags: number[];
}

export interface JudgeInput {
  clients: ChaosClient[];
  driven: Driven;
  /** opencode itself: the truth. */
  opencodeUrl: string;
  /** What upstream said on its stream, each content counted (a repeat of its own is no fault of the shim). */
  said: Map<string, number>;
  faults: Fault[];
  boundMs: number;
}

interface RestSession {
  id: string;
  parentID?: string;
  directory: string;
}

/** The sessions of the run in `directory` as opencode lists them: those driven, and their subagents'. */
async function sessionsOf(input: JudgeInput, directory: string): Promise<RestSession[]> {
  const all = await call<RestSession[]>(input.opencodeUrl, "GET", "/session?limit=1000000", undefined, {
    directory,
  });
  const driven = (id: string | undefined) => id !== undefined && input.driven.sessions.has(id);
  return all.filter((session) => driven(session.id) || driven(session.parentID));
}

/** The differences between what a client made of a session and what REST shows, briefly. */
function differences(told: ReturnType<typeof stateOf>, truth: Awaited<ReturnType<typeof restStateOf>>) {
  const out: string[] = [];
  if (!isDeepStrictEqual(told.session, truth.session)) out.push("session info");
  for (const [id, message] of truth.messages)
    if (!isDeepStrictEqual(told.messages.get(id), message))
      out.push(`message ${id} ${JSON.stringify(message)} told ${JSON.stringify(told.messages.get(id))}`);
  for (const id of told.messages.keys()) if (!truth.messages.has(id)) out.push(`message ${id} not in REST`);
  for (const [id, part] of truth.parts) {
    const got = told.parts.get(id);
    if (isDeepStrictEqual(got, part)) continue;
    const brief = (p: Record<string, unknown> | undefined) =>
      p ? `${p.type}/${(p.state as { status?: string } | undefined)?.status ?? ""}` : "never told";
    out.push(`part ${id} ${brief(part)} told ${brief(got)}`);
  }
  if (!isDeepStrictEqual(told.todos, truth.todos)) out.push("todos");
  return out;
}

/** Whether every client of the run has converged on REST, and everything else the promise says. */
export async function judge(input: JudgeInput): Promise<Verdict> {
  const problems: string[] = [];
  const late: string[] = [];
  const lags: number[] = [];
  const directories = [...new Set(input.clients.map((client) => client.directory))];
  const sessionsByDirectory = new Map<string, RestSession[]>();
  for (const directory of directories) sessionsByDirectory.set(directory, await sessionsOf(input, directory));

  for (const directory of directories) {
    const sessions = sessionsByDirectory.get(directory) ?? [];
    const ours = new Set(sessions.map((session) => session.id));
    const foreign = new Set(
      [...sessionsByDirectory]
        .filter(([other]) => other !== directory)
        .flatMap(([, others]) => others.map((session) => session.id)),
    );
    const statuses = await call<Record<string, unknown>>(
      input.opencodeUrl,
      "GET",
      "/session/status",
      undefined,
      { directory },
    );
    for (const id of ours) if (id in statuses) problems.push(`REST: session ${id} still busy at the end`);
    const truths = new Map<string, Awaited<ReturnType<typeof restStateOf>>>();
    for (const session of sessions)
      truths.set(session.id, await restStateOf(input.opencodeUrl, session.id, directory));
    const turns = input.driven.turns.filter((turn) => turn.directory === directory);

    for (const client of input.clients.filter((candidate) => candidate.directory === directory)) {
      const view = client.view();
      const who = client.name;
      problems.push(...crossings(who, view, foreign, directory));
      problems.push(...repeats(who, client));
      for (const session of sessions) {
        const events = sessionEvents(view, session.id);
        const truth = truths.get(session.id);
        if (truth)
          for (const difference of differences(stateOf(events), truth))
            problems.push(`${who}: session ${session.id}: ${difference}`);
        const idles = events.filter((event) => event.json.type === "session.idle").length;
        const owed = session.parentID ? 1 : turns.filter((turn) => turn.sessionID === session.id).length;
        if (idles !== owed)
          problems.push(`${who}: session ${session.id}: ${idles} session.idle for ${owed} turn(s)`);
        const status = events.findLast((event) => event.json.type === "session.status");
        if (status && props(status).status?.type !== "idle")
          problems.push(`${who}: session ${session.id}: last told status ${props(status).status?.type}`);
        // A session's statuses and session.idle say the same each turn: counted against its turns instead.
        const perTurn = new Set(["session.status", "session.idle"]);
        const idleStatuses = events.filter(
          (event) => event.json.type === "session.status" && props(event).status?.type === "idle",
        ).length;
        if (idleStatuses > owed)
          problems.push(`${who}: session ${session.id}: ${idleStatuses} idle statuses for ${owed} turn(s)`);
        for (const [content, count] of toldTwice(
          events.filter((event) => !perTurn.has(event.json.type)),
          input.said,
        ))
          problems.push(`${who}: told ${count}×: ${content.slice(0, 300)}`);
      }
      for (const answered of input.driven.answered.filter((entry) => entry.directory === directory)) {
        const of = (type: string, key: string) =>
          view.some((event) => event.json.type === type && props(event)[key] === answered.id);
        if (!of(`${answered.kind}.asked`, "id"))
          problems.push(`${who}: ${answered.kind}.asked ${answered.id} never told`);
        if (!of(`${answered.kind}.replied`, "requestID"))
          problems.push(`${who}: ${answered.kind}.replied ${answered.id} never told`);
      }
      for (const lag of turnLags(client, turns, input)) {
        lags.push(lag.ms);
        if (lag.ms > input.boundMs) late.push(`${who}: ${lag.what}`);
      }
    }
  }
  return { problems, late, lags };
}

/** Events about sessions of another directory, or naming another directory. */
function crossings(who: string, view: ReceivedEvent[], foreign: Set<string>, directory: string): string[] {
  const out: string[] = [];
  for (const event of view) {
    const p = props(event);
    const sessionID = p.sessionID ?? (p.info as { sessionID?: string } | undefined)?.sessionID;
    const infoDirectory = (p.info as { directory?: string } | undefined)?.directory;
    const session = event.json.type.startsWith("session.") ? (p.info?.id ?? sessionID) : sessionID;
    if (infoDirectory !== undefined && infoDirectory !== directory)
      out.push(`${who}: ${event.json.type} of directory ${infoDirectory}`);
    else if (session !== undefined && foreign.has(session))
      out.push(`${who}: ${event.json.type} of session ${session}, of another directory`);
  }
  return out;
}

/** The same event twice at one client: the same SSE id or the same opencode id over its connections. */
function repeats(who: string, client: ChaosClient): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const seenIds = new Set<string>();
  for (const event of client.view()) {
    if (event.id !== undefined) {
      if (seen.has(event.id)) out.push(`${who}: SSE id ${event.id} twice (${event.json.type})`);
      seen.add(event.id);
    }
    const id = event.json.id;
    if (id !== undefined) {
      if (seenIds.has(id)) out.push(`${who}: event ${id} twice (${event.json.type})`);
      seenIds.add(id);
    }
  }
  return out;
}

/** How long opencode was down (restarting) between `from` and `to`. */
export function downtime(faults: Fault[], from: number, to: number): number {
  let down = 0;
  for (const fault of faults)
    if (fault.until !== undefined) down += Math.max(0, Math.min(to, fault.until) - Math.max(from, fault.at));
  return down;
}

/** For each turn: how long after it ended (or the client came back) the client got its session.idle. */
function turnLags(client: ChaosClient, turns: Turn[], input: JudgeInput) {
  const view = client.view();
  const out: Array<{ ms: number; what: string }> = [];
  const bySession = new Map<string, Turn[]>();
  for (const turn of turns) bySession.set(turn.sessionID, [...(bySession.get(turn.sessionID) ?? []), turn]);
  for (const [sessionID, ofSession] of bySession) {
    const idles = view.filter(
      (event) => event.json.type === "session.idle" && props(event).sessionID === sessionID,
    );
    ofSession.sort((a, b) => a.endedAt - b.endedAt);
    for (const [index, turn] of ofSession.entries()) {
      const idle = idles[index];
      if (!idle) continue; // counted above
      const from = client.reachableFrom(turn.endedAt, idle.at);
      // Only the time opencode was up counts: while it restarts, nobody can read what it did.
      const ms = Math.max(0, idle.at - from - downtime(input.faults, from, idle.at));
      const around = input.faults
        .filter((fault) => fault.at >= turn.startedAt - 10_000 && fault.at <= turn.endedAt + ms)
        .map((fault) => `${((fault.at - turn.endedAt) / 1000).toFixed(1)} s ${fault.what}`);
      out.push({
        ms,
        what: `session.idle ${Math.round(ms)} ms after the ${turn.kind} turn of ${sessionID} ended (faults: ${around.join("; ") || "none"})`,
      });
    }
  }
  return out;
}
