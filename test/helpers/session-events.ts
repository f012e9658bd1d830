import type { ReceivedEvent } from "../../fixtures/sse-client.js";

type Props = Record<string, unknown> & {
  sessionID?: string;
  info?: { id?: string; role?: string; sessionID?: string };
  part?: { id?: string; type?: string; text?: string; messageID?: string; sessionID?: string };
  status?: { type?: string };
  delta?: string;
  partID?: string;
  field?: string;
};

export function props(event: ReceivedEvent): Props {
  return (event.json.properties ?? {}) as Props;
}

/** The events of one session, in arrival order. */
export function sessionEvents(events: ReceivedEvent[], sessionID: string): ReceivedEvent[] {
  return events.filter((event) => props(event).sessionID === sessionID);
}

/** What a UI would render from a session's events: the assistant's final text, rebuilt two ways. */
export function assistantText(events: ReceivedEvent[]) {
  const assistantIds = new Set(
    events
      .filter((event) => event.json.type === "message.updated" && props(event).info?.role === "assistant")
      .map((event) => props(event).info?.id),
  );
  const finalParts = new Map<string, string>();
  for (const event of events) {
    const part = props(event).part;
    if (
      event.json.type === "message.part.updated" &&
      part?.type === "text" &&
      assistantIds.has(part.messageID)
    ) {
      finalParts.set(part.id ?? "", part.text ?? "");
    }
  }
  const deltas = new Map<string, string>();
  for (const event of events) {
    const p = props(event);
    if (event.json.type === "message.part.delta" && p.field === "text") {
      deltas.set(p.partID ?? "", (deltas.get(p.partID ?? "") ?? "") + (p.delta ?? ""));
    }
  }
  return { final: [...finalParts.values()].join(""), deltas: [...deltas.values()].join("") };
}
