/** One sample of the Prometheus text, by its name and labels as written. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The shim's `/shim/metrics`, as text. */
export async function scrape(shimUrl: string): Promise<string> {
  const response = await fetch(`${shimUrl}/shim/metrics`);
  if (response.status !== 200) throw new Error(`GET /shim/metrics answered ${response.status}`);
  return response.text();
}
