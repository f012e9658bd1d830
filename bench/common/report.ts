export type Cell = string | number;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** Printed under the table: what a reader needs to read it right. */
  notes?: string[];
}

export interface Verdict {
  benchmark: string;
  target: string;
  measured: string;
  met: boolean;
}

/** Milliseconds, from microseconds, with the precision the size deserves. */
export function ms(us: number): string {
  if (!Number.isFinite(us)) return "–";
  const value = us / 1000;
  const abs = Math.abs(value);
  return value.toFixed(abs < 10 ? 2 : abs < 100 ? 1 : 0);
}

export function percent(fraction: number, digits = 1): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)} %` : "–";
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "–";
}

export function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "–";
}

function markdown(table: Table): string {
  const line = (cells: Cell[]) => `| ${cells.map(String).join(" | ")} |`;
  const lines = [
    `### ${table.title}`,
    "",
    line(table.columns),
    line(table.columns.map(() => "---")),
    ...table.rows.map(line),
  ];
  if (table.notes?.length) lines.push("", ...table.notes);
  return `${lines.join("\n")}\n`;
}

/**
 * Prints each table as it is finished (as Markdown) and the verdicts at the end, and keeps
 * both for the run's record (bench/runs/latest.md).
 */
export class Report {
  readonly verdicts: Verdict[] = [];
  /** Every table printed, as Markdown, in order. */
  readonly tables: string[] = [];

  table(table: Table): void {
    const text = markdown(table);
    this.tables.push(text);
    process.stdout.write(`\n${text}`);
  }

  verdict(verdict: Verdict): void {
    this.verdicts.push(verdict);
  }

  /** The verdicts as one table, the one BENCHMARKS.md's Results section holds. */
  summary(): string {
    return markdown({
      title: "Summary against the targets",
      columns: ["benchmark", "target", "measured", "verdict"],
      rows: this.verdicts.map((v) => [v.benchmark, v.target, v.measured, v.met ? "met" : "**not met**"]),
    });
  }

  printSummary(): void {
    if (this.verdicts.length === 0) return;
    process.stdout.write(`\n${this.summary()}`);
  }
}
