import type { EventPayload } from "../../hub/update.js";
import type { Part, PendingRequest } from "../../opencode/state.js";
import { event } from "./diff.js";

/**
 * A permission or question that is no longer pending was answered. How, REST only tells
 * through the end of the tool call it belongs to, so the event waits for that end —
 * or for the session to go idle (`sessionEnding`), when there is nothing more to wait for.
 */
function ended(tool: Part | undefined, sessionEnding: boolean): Part["state"] | null {
  const state = tool?.state;
  if (state?.status === "completed" || state?.status === "error") return state;
  return sessionEnding ? undefined : null;
}

/** The event that tells how a request no longer pending was settled; undefined until that can be told. */
export type Settle = (
  request: PendingRequest,
  tool: Part | undefined,
  sessionEnding: boolean,
) => EventPayload | undefined;

function settle(tell: (request: PendingRequest, state: Part["state"]) => EventPayload): Settle {
  return (request, tool, sessionEnding) => {
    const state = ended(tool, sessionEnding);
    return state === null ? undefined : tell(request, state);
  };
}

/** permission.replied; "always" looks like "once" over REST, a refusal ends the tool in an error. */
export const permissionReplied = settle((request, state) =>
  event("permission.replied", {
    sessionID: request.sessionID,
    requestID: request.id,
    reply: state?.status === "error" ? "reject" : "once",
  }),
);

/** question.replied with the answers the tool recorded, or question.rejected when it was dismissed. */
export const questionSettled = settle(({ sessionID, id: requestID }, state) => {
  if (state?.status === "error") return event("question.rejected", { sessionID, requestID });
  const answers = (state?.metadata as { answers?: unknown } | undefined)?.answers;
  return event("question.replied", { sessionID, requestID, answers: Array.isArray(answers) ? answers : [] });
});
