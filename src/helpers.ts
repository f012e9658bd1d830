// Small helpers every layer uses. This module imports nothing of the shim's.

/** A request URL's path, without its query. */
export function pathOf(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/** A request URL's query, with its `?`; "" when it has none. */
export function queryOf(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? "" : url.slice(query);
}

/** A header's or a query parameter's value as one string: the first, when it is given more than once. */
export function firstString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && typeof value[0] === "string") return value[0];
  return undefined;
}
