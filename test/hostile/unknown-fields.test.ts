// A hostile response made of unknown fields (issue 21): 4 MiB (the default message limit)
// of 2-byte unknown fields, 2 million of them, in one Quote. The client decodes it in a
// process of its own (test/fixtures/unknown-fields-client.js, heap capped) and reports
// what it cost: the call completes, memory per field is an entry and a view into ONE copy
// of the message's unknown bytes (not a buffer each), and with binaryOptions
// { readUnknownFields: false } it costs no unknown-field object at all. Over net tcp only:
// decoding does not depend on the channel. No time is asserted.

import { expect, it, onTestFinished } from "vitest";
import { FrameKind } from "../../src/frame/constants.js";
import { encodeEnd } from "../../src/frame/frames.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { NO_METADATA, QUOTE_SEQ_1 } from "./client-attack.js";
import { RawServer } from "./raw-server.js";
import { STREAM_CHANNELS, bytesOf } from "./support.js";

requireDist(["index", "channel", "connect", "frame", "region", "binding", "errors"]);

interface Memory {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}
type Done = { fields: number; memory: Memory; peakRssGrowth: number } | { code: string; message: string };

const MiB = 1024 * 1024;
/** Field 15 (unknown to Quote), varint 0: 2 bytes each, as many as the 4 MiB limit holds. */
const FIELDS = (4 * MiB - 16) / 2;
const channel = STREAM_CHANNELS.find((c) => c.name === "net-tcp") as (typeof STREAM_CHANNELS)[number];
/**
 * The fixture's heap cap: the peak bound. Read, the fields take ~155 bytes each (325 MiB
 * live); a buffer of its own per field took ~267 (560 MiB live) and dies under this cap.
 */
const HEAP_CAP_MIB = 448;

/** A raw server answering a warm-up call normally, then the next call with FIELDS unknown fields. */
async function hostileServer(): Promise<RawServer> {
  const unknown = new Uint8Array(FIELDS * 2);
  for (let i = 0; i < unknown.byteLength; i += 2) unknown[i] = 15 << 3;
  return RawServer.listen(channel, async (conn) => {
    let from = 0;
    for (const message of [QUOTE_SEQ_1, unknown]) {
      const start = await conn.next(FrameKind.CALL_START, 10_000, from);
      from = conn.frames.indexOf(start) + 1;
      await conn.send(bytesOf(encodeEnd(start.streamId, { headers: NO_METADATA, message, status: { code: 0, message: "", details: [] }, trailers: NO_METADATA })));
    }
  });
}

/** The call in a fixture: "read" the unknown fields, or "skip" them (readUnknownFields: false). */
async function call(mode: "read" | "skip"): Promise<{ baseline: Memory; done: Done }> {
  const server = await hostileServer();
  const fixture = new Fixture("unknown-fields-client.js", [channel.engine, server.url, mode], ["--expose-gc", `--max-old-space-size=${HEAP_CAP_MIB}`]);
  onTestFinished(() => fixture.stop());
  const { baseline } = await fixture.line<{ baseline: Memory }>(30_000);
  const { done } = await fixture.line<{ done: Done }>(120_000);
  expect((await fixture.exited).code).toBe(0);
  return { baseline, done };
}

it(`4 MiB of unknown fields (${FIELDS}) in one response: the call completes under a ${HEAP_CAP_MIB} MiB heap, at most 200 bytes per field`, async () => {
  const { baseline, done } = await call("read");
  if (!("fields" in done)) throw new Error(`the call failed: ${done.code} ${done.message}`);
  expect(done.fields).toBe(FIELDS);
  // Per field: its entry { no, wireType, data } (48 bytes), the view `data` (~96) and its
  // slot in $unknown (8): ~152. A buffer of its own per field adds an ArrayBuffer (≥ 56
  // bytes of heap, plus its backing store): 267 were measured that way.
  const growth = done.memory.heapUsed - baseline.heapUsed + (done.memory.external - baseline.external);
  expect(growth / FIELDS, "heap + external bytes held per unknown field").toBeLessThan(200);
  // One copy of the unknown bytes (4 MiB), not one per field.
  expect(done.memory.external - baseline.external).toBeLessThan(8 * MiB);
}, 240_000);

it("readUnknownFields: false: the same response costs no unknown-field object", async () => {
  const { baseline, done } = await call("skip");
  if (!("fields" in done)) throw new Error(`the call failed: ${done.code} ${done.message}`);
  expect(done.fields).toBe(0);
  // 1% of the fields as objects would hold ~3 MiB.
  expect(done.memory.heapUsed - baseline.heapUsed, "heap held after the call").toBeLessThan(MiB);
  // The 4 MiB frame and fromBinary's skipping: nothing per field (read, the peak grew ~560 MiB).
  expect(done.peakRssGrowth, "peak RSS growth over the call").toBeLessThan(64 * MiB);
}, 240_000);
