// The encoder and the decoder run where code generation is forbidden: plans are closures
// and tables, never eval or new Function. The built module (dist/protobuf) encodes and
// decodes messages under `node --jitless --disallow-code-generation-from-strings` in a
// child process, equal to toBinary and fromBinary there.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { requireDist, root } from "../channel/support/processes.js";

const script = `
  const { create, equals, fromBinary, toBinary } = await import("@bufbuild/protobuf");
  const { decodeFrom, encodedSize, encodeInto } = await import(${JSON.stringify(`${root}dist/protobuf/index.js`)});
  const { EchoMessageSchema } = await import(${JSON.stringify(`${root}bench/gen/bench/v1/bench_pb.js`)});
  const { OrderSchema } = await import(${JSON.stringify(`${root}test/gen/market/v1/market_pb.js`)});
  const messages = [
    [EchoMessageSchema, create(EchoMessageSchema, { payload: new Uint8Array(64).fill(3), seq: 77n })],
    [OrderSchema, create(OrderSchema, { symbol: "ACME", price: 1.5, tags: { a: new Uint8Array([1]) }, reference: { symbol: "ACME", sequence: 9n } })],
  ];
  for (const [schema, message] of messages) {
    const target = new Uint8Array(encodedSize(schema, message));
    encodeInto(schema, message, target, 0);
    if (Buffer.compare(target, toBinary(schema, message)) !== 0) throw new Error("differs from toBinary: " + schema.typeName);
    for (const mode of ["copy", "alias"]) {
      const decoded = decodeFrom(schema, target, mode);
      if (!equals(schema, decoded, fromBinary(schema, target)) || !equals(schema, decoded, message)) throw new Error("differs from fromBinary: " + schema.typeName);
    }
  }
  console.log("encoded and decoded " + messages.length);
`;

describe("no code generation", () => {
  it("encodes and decodes under --jitless --disallow-code-generation-from-strings", () => {
    requireDist(["protobuf"]);
    const child = spawnSync(process.execPath, ["--jitless", "--disallow-code-generation-from-strings", "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
    });
    // --jitless prints a warning that it turns WebAssembly off; nothing else may appear.
    expect(child.stderr.replace(/^Warning: disabling flag --expose_wasm.*\n/m, "")).toBe("");
    expect(child.stdout.trim()).toBe("encoded and decoded 2");
  });
});
