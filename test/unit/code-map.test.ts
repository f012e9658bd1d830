import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

function filesUnder(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(folder, entry.name)) : [join(folder, entry.name)],
  );
}

describe("the README's code map", () => {
  it("names every file under src/ (by its name, in the row of its folder)", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const map = readme.slice(readme.indexOf("### Code map"), readme.indexOf("## Containers"));
    const rows = map.split("\n").filter((line) => line.startsWith("| `src/"));
    const unnamed = filesUnder("src").filter((file) => {
      const path = relative(root, join(root, file));
      const name = path.split("/").at(-1) as string;
      const folder = path.split("/").slice(0, 2).join("/");
      return !rows.some(
        (row) => (row.includes(`\`${folder}`) || row.includes(`\`${path}\``)) && row.includes(name),
      );
    });
    expect(unnamed).toEqual([]);
  });
});
