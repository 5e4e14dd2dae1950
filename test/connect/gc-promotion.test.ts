// Per-call objects die young: at 64 unary calls in flight, the young-generation GC
// promotes next to nothing to the old generation. A regression here (a long-lived Map or
// Set that gains and loses an entry per call, a per-call object literal V8 decides to
// pretenure) promoted 950–1,950 bytes per call and cost ~40 % of the throughput
// (docs/TUNING.md, "Garbage collection"). Measured in a child process under
// --trace-gc-nvp (the `promoted=` field of each scavenge), over the built modules and the
// in-process memory engine, so the number reflects the Connect and session layers.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const file = (path: string): string => JSON.stringify(fileURLToPath(new URL(path, import.meta.url)));

// Fixed counts, not a time window: the same work on an idle or a loaded machine.
const WARMUP_CALLS = 10_000;
const MEASURED_CALLS = 30_000;

const script = `
  const { create } = await import("@bufbuild/protobuf");
  const { createClient } = await import("@connectrpc/connect");
  const { createServer, createUringTransport } = await import(${file("../../dist/index.js")});
  const { MarketService, QuoteSchema } = await import(${file("../gen/market/v1/market_pb.js")});
  const routes = (router) => router.service(MarketService, {
    getQuote: (req) => create(QuoteSchema, { symbol: req.symbol, bid: 1.5, ask: 1.75, venuePayload: req.payload }),
  });
  const server = createServer({ routes });
  const url = await server.listen("memory://gc-promotion-" + process.pid);
  const transport = createUringTransport({ url });
  const client = createClient(MarketService, transport);
  const payload = new Uint8Array(64).fill(7);
  let calls = 0;
  const run = async (total) => {
    let started = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (started < total) {
        started++;
        const quote = await client.getQuote({ symbol: "ACME", payload });
        if (quote.venuePayload.byteLength !== 64) throw new Error("bad echo");
        calls++;
      }
    }));
  };
  await run(${WARMUP_CALLS});
  calls = 0;
  console.log("MEASURE-START");
  await run(${MEASURED_CALLS});
  console.log("MEASURE-END calls=" + calls);
  await transport.close();
  await server.close(0);
`;

describe("garbage collection under load", () => {
  it("promotes (almost) nothing per call at 64 unary calls in flight", () => {
    const child = spawnSync(process.execPath, ["--trace-gc-nvp", "--input-type=module", "-e", script], {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    });
    expect(child.stderr).toBe("");
    expect(child.status).toBe(0);
    let measuring = false;
    let calls = 0;
    let promoted = 0;
    let scavenges = 0;
    for (const line of child.stdout.split("\n")) {
      if (line.startsWith("MEASURE-START")) measuring = true;
      else if (line.startsWith("MEASURE-END")) {
        measuring = false;
        calls = Number(/calls=(\d+)/.exec(line)?.[1]);
      } else if (measuring && /\bgc=s\b/.test(line)) {
        scavenges++;
        promoted += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? Number.NaN);
      }
    }
    // Every call ran, enough young GCs ran, and a number to report when it fails.
    expect(calls).toBe(MEASURED_CALLS);
    expect(scavenges).toBeGreaterThan(5);
    const perCall = promoted / calls;
    expect(perCall, `${promoted} bytes promoted over ${calls} calls in ${scavenges} scavenges`).toBeLessThan(300);
  });
});
