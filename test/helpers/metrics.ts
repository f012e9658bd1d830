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

/** The sum of every sample of a metric, whatever its labels. */
export function total(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
