// Docs that say something is tested must name the test, and the test must exist.
// The convention (docs/ and the READMEs): a test is cited as a backticked path under test/,
// optionally followed by a comma and a quoted fragment of a test or describe title from
// that file, e.g. (`test/hostile/faults.test.ts`, "the write watchdog").
//   1. every such citation names a file (or directory) that exists, and its fragment
//      occurs in that file;
//   2. every claim of testing — a unit of text (a paragraph, a list item or a table row)
//      saying "tested", "enforced by a test", "a test proves" or "tests that hold" —
//      cites at least one test.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { root } from "../channel/support/processes.js";

const FILES = [
  "README.md",
  "examples/README.md",
  "fuzz/README.md",
  "bench/README.md",
  ...readdirSync(`${root}docs`)
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
].filter((f) => existsSync(`${root}${f}`));

const CLAIM = /\btested\b(?! on\b)|\benforced by (?:a|the) tests?\b|\ba test proves\b|\btests? (?:that )?holds?\b/i;
const CITATION = /`(test\/[^`\s]*)`(?:,\s*"([^"]+)")?/g;

/** Units of a markdown file: paragraphs, list items and table rows, each as one line of text. */
function units(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let current: { line: number; parts: string[] } | undefined;
  let fenced = false;
  const flush = (): void => {
    if (current) out.push({ line: current.line, text: current.parts.join(" ") });
    current = undefined;
  };
  markdown.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith("```")) {
      flush();
      fenced = !fenced;
      return;
    }
    if (fenced || line === "" || line.startsWith("#") || line.startsWith("<!--")) {
      flush();
      return;
    }
    if (line.startsWith("|") || /^(?:[-*]|\d+\.) /.test(line)) flush();
    if (!current) current = { line: i + 1, parts: [] };
    current.parts.push(line);
    if (line.startsWith("|")) flush();
  });
  flush();
  return out;
}

describe("docs cite tests that exist", () => {
  it.each(FILES)("every test cited in %s exists, with the title fragment it quotes", (file) => {
    const problems: string[] = [];
    for (const unit of units(readFileSync(`${root}${file}`, "utf8"))) {
      for (const [, path, fragment] of unit.text.matchAll(CITATION)) {
        const target = `${root}${path}`;
        if (!existsSync(target)) {
          problems.push(`${file}:${unit.line}: ${path} does not exist`);
          continue;
        }
        if (fragment !== undefined) {
          if (statSync(target).isDirectory()) problems.push(`${file}:${unit.line}: ${path} is a directory; a title fragment needs a file`);
          else if (!readFileSync(target, "utf8").includes(fragment)) problems.push(`${file}:${unit.line}: "${fragment}" is not in ${path}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(FILES)("every claim of testing in %s cites a test", (file) => {
    const uncited = units(readFileSync(`${root}${file}`, "utf8"))
      .filter((unit) => CLAIM.test(unit.text) && ![...unit.text.matchAll(CITATION)].length)
      .map((unit) => `${file}:${unit.line}: ${unit.text.slice(0, 160)}`);
    expect(uncited).toEqual([]);
  });

  it("the checker sees the citations and claims it is meant to see", () => {
    const sample = units(
      [
        "A limit, tested (`test/hostile/faults.test.ts`, \"the write watchdog\").",
        "",
        "| row | enforced by a test |",
        "- an item that is tested",
        "  across two lines (`test/channel/contract-tests.ts`,",
        '  "lease rules").',
        "",
        "Developed and tested on Debian.",
      ].join("\n"),
    );
    expect(sample.map((u) => [CLAIM.test(u.text), [...u.text.matchAll(CITATION)].map((m) => [m[1], m[2]])])).toEqual([
      [true, [["test/hostile/faults.test.ts", "the write watchdog"]]],
      [true, []],
      [true, [["test/channel/contract-tests.ts", "lease rules"]]],
      [false, []],
    ]);
  });
});
