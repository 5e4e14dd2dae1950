// The layers of docs/ARCHITECTURE.md, enforced: every relative import in src/ goes to the
// same layer or one below it, and no group of files in src/ or bench/ imports itself in a
// cycle. The graph is read from the sources (import/export ... from, import()).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

/** Layers from the top down: a file may import its own layer or any layer after it. */
const LAYERS: ReadonlyArray<{ name: string; owns: (path: string) => boolean }> = [
  { name: "public API and CLI", owns: (p) => p === "src/index.ts" || p === "src/cjs.cts" || p.startsWith("src/cli/") },
  { name: "connect", owns: (p) => p.startsWith("src/connect/") },
  // Below connect, above frame: only the Connect layer (and the public API) may use the
  // encoder; the frame layer sees a message only as a PayloadWriter (src/frame/payload.ts).
  { name: "protobuf encoder", owns: (p) => p.startsWith("src/protobuf/") },
  { name: "frame", owns: (p) => p.startsWith("src/frame/") },
  { name: "channel", owns: (p) => p.startsWith("src/channel/") },
  { name: "region", owns: (p) => p === "src/region.ts" },
  { name: "binding and shared errors", owns: (p) => ["src/binding.ts", "src/errors.ts", "src/capabilities.ts"].includes(p) },
];

function layerOf(path: string): number {
  const index = LAYERS.findIndex((layer) => layer.owns(path));
  if (index < 0) throw new Error(`${path} belongs to no layer: add it to LAYERS and to docs/ARCHITECTURE.md`);
  return index;
}

function sourceFiles(dir: string, extensions: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = `${dir}/${name}`;
    if (name === "gen" || name === "node_modules" || name === "results") continue;
    if (statSync(join(root, path)).isDirectory()) out.push(...sourceFiles(path, extensions));
    else if (extensions.some((e) => name.endsWith(e)) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** The repository-relative files a source file imports (relative specifiers only). */
function importsOf(path: string): string[] {
  const text = readFileSync(join(root, path), "utf8");
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]!);
  return specifiers.map((specifier) => {
    const target = relative(root, resolve(root, dirname(path), specifier));
    if (!path.startsWith("src/")) return target;
    return target.replace(/\.js$/, ".ts").replace(/\.cjs$/, ".cts");
  });
}

/** Strongly connected components with more than one file, or a file importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

function graphOf(files: readonly string[]): Map<string, string[]> {
  return new Map(files.map((file) => [file, importsOf(file)]));
}

describe("layers (docs/ARCHITECTURE.md)", () => {
  const src = graphOf(sourceFiles("src", [".ts", ".cts"]));

  it("reads a non-trivial import graph", () => {
    // Guards the reader itself: a regex that matched nothing would make every check pass.
    expect(src.size).toBeGreaterThan(40);
    expect([...src.values()].flat().length).toBeGreaterThan(150);
    expect(src.get("src/connect/transport.ts")).toContain("src/frame/session.ts");
  });

  it("every import in src/ goes to the same layer or one below", () => {
    const upward: string[] = [];
    for (const [file, targets] of src) {
      for (const target of targets) {
        if (layerOf(target) < layerOf(file)) {
          upward.push(`${file} (${LAYERS[layerOf(file)]!.name}) imports ${target} (${LAYERS[layerOf(target)]!.name})`);
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it("src/ has no import cycle", () => {
    // A stream reaches its session only through StreamHost, an interface stream.ts owns.
    expect(cycles(src)).toEqual([]);
  });

  it("bench/ has no import cycle", () => {
    expect(cycles(graphOf(sourceFiles("bench", [".js", ".mjs"])))).toEqual([]);
  });

  it("the checks catch an upward import and a cycle", () => {
    // The detector on a made-up graph: a cycle of two and one of three are found, a chain is not.
    const made = new Map([
      ["a", ["b"]],
      ["b", ["a"]],
      ["c", ["d"]],
      ["d", ["e"]],
      ["e", ["c"]],
      ["f", ["g"]],
      ["g", []],
    ]);
    expect(cycles(made)).toEqual([["a", "b"], ["c", "d", "e"]]);
    expect(layerOf("src/region.ts")).toBeGreaterThan(layerOf("src/channel/channel.ts"));
  });
});
