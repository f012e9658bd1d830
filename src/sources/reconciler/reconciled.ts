/**
 * The events the reconciler rebuilds from REST. While the stream is not trusted, clients
 * get these from the reconciler only; the stream's other events (files, PTYs, LSP,
 * disposals…) still pass, since nothing else can tell them.
 */
export const RECONCILED_TYPES: ReadonlySet<string> = new Set([
  "session.created",
  "session.updated",
  "session.deleted",
  "session.status",
  "session.idle",
  "session.diff",
  "message.updated",
  "message.removed",
  "message.part.updated",
  "message.part.removed",
  "message.part.delta",
  "permission.asked",
  "permission.replied",
  "question.asked",
  "question.replied",
  "question.rejected",
  "todo.updated",
]);
