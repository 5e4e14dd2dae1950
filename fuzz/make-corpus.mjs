// Writes the committed seed corpus of the fuzz targets (fuzz/corpus/<target>/): a few
// well-formed inputs per target, so the fuzzer starts from real frames and real message
// layouts instead of noise. Stream bodies are protocol frames made with the src/frame
// encoders (from dist/: run `npx tsc -p .` first). Re-run after a wire-format change:
//   node fuzz/make-corpus.mjs
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { encodeCallStart, encodeEnd, encodeHello, encodeMessage, encodePing } from "../dist/frame/frames.js";
import { prepareMetadata } from "../dist/frame/metadata.js";

const root = fileURLToPath(new URL("./corpus/", import.meta.url));

function bytes(out) {
  const b = new Uint8Array(out.byteLength);
  out.write(b);
  return b;
}

function le32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** Channel framing of docs/CHANNELS.md §1: u32 LE length + body. */
function framed(...bodies) {
  return Buffer.concat(bodies.flatMap((b) => [le32(b.byteLength), Buffer.from(b)]));
}

function write(target, name, data) {
  mkdirSync(root + target, { recursive: true });
  writeFileSync(`${root}${target}/${name}`, data);
}

// Generated seeds are rewritten; inputs that once found a bug (regression-*) are kept.
for (const t of ["frame_assembler", "lease_allocator", "rdma_message"]) {
  if (!existsSync(root + t)) continue;
  for (const f of readdirSync(root + t)) if (!f.startsWith("regression-")) rmSync(`${root}${t}/${f}`);
}

// frame_assembler: [seed u32][max frame sel][capacity sel][fail rate][buffer max sel] + stream
const hello = bytes(encodeHello({ version: 1, minVersion: 1, maxMessageBytes: 4 << 20, maxHeaderBytes: 65536, maxConcurrentStreams: 1024, initialWindowBytes: 1 << 20 }));
const headers = new Headers({ "x-trace": "abc", "x-bin": "AAEC" });
const call = bytes(encodeCallStart(1, "/market.v1.MarketService/GetQuote", prepareMetadata(headers), 5000, new Uint8Array([0x0a, 0x01, 0x41]), true));
const big = bytes(encodeMessage(3, new Uint8Array(3000).fill(0x5a), false));
const end = bytes(encodeEnd(1, { headers: prepareMetadata(undefined), message: new Uint8Array([1, 2]), status: { code: 0, message: "", details: [] }, trailers: prepareMetadata(undefined) }));
const ping = bytes(encodePing(8, 42));
const config = (seed, maxSel, capSel, fail, bufSel) => Buffer.from([seed & 255, seed >> 8, 0, 0, maxSel, capSel, fail, bufSel]);
write("frame_assembler", "handshake-call", Buffer.concat([config(1, 7, 6, 0, 7), framed(hello, call, ping)]));
write("frame_assembler", "split-bytewise", Buffer.concat([config(2, 7, 6, 40, 0), framed(hello, call)]));
write("frame_assembler", "large-straddling", Buffer.concat([config(3, 6, 5, 128, 5), framed(big, end, big)]));
write("frame_assembler", "empty-frames", Buffer.concat([config(4, 0, 0, 0, 3), framed(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0))]));
write("frame_assembler", "too-large", Buffer.concat([config(5, 3, 6, 0, 4), framed(ping), le32(100000), Buffer.alloc(12, 1)]));
write("frame_assembler", "never-fits", Buffer.concat([config(6, 6, 2, 0, 4), framed(new Uint8Array(200).fill(7))]));
write("frame_assembler", "partial-end", Buffer.concat([config(7, 7, 6, 0, 6), framed(hello), le32(1000), Buffer.alloc(10, 7)]));
write("frame_assembler", "header-split", Buffer.concat([config(8, 7, 6, 0, 1), framed(ping, ping), le32(5).subarray(0, 2)]));

// lease_allocator: [u16 units] + 3-byte ops (alloc small / alloc scaled / free live / free any)
const ops = (...list) => Buffer.from(list.flat());
write("lease_allocator", "alloc-free", Buffer.concat([Buffer.from([64, 0]), ops([0, 10, 0], [0, 0, 1], [4, 0, 64], [2, 0, 0], [0, 255, 3], [2, 1, 0], [3 | (1 << 2), 0, 1])]));
write("lease_allocator", "fill-wrap", Buffer.concat([Buffer.from([16, 0]), ops(...Array.from({ length: 20 }, (_, i) => (i % 3 === 2 ? [2, i, 0] : [4, 0, 16])))]));
write("lease_allocator", "one-unit", Buffer.concat([Buffer.from([0, 0]), ops([0, 1, 0], [0, 1, 0], [2, 0, 0], [0, 0, 0])]));

// rdma_message: [max frame sel][u16 recv depth][u8 count] + ([u16 size][bytes])*
const rdma = (kind, credits, body) => {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(body.byteLength);
  h.writeUInt16LE(credits, 4);
  h[6] = kind;
  return Buffer.concat([h, body]);
};
const sized = (...msgs) => Buffer.concat(msgs.flatMap((m) => [Buffer.from([m.byteLength & 255, m.byteLength >> 8]), m]));
const readRequest = Buffer.alloc(20);
readRequest.writeBigUInt64LE(0x7f0000001000n);
readRequest.writeUInt32LE(0x1234, 8);
readRequest.writeUInt32LE(1 << 20, 12);
readRequest.writeUInt32LE(7, 16);
write("rdma_message", "all-kinds", Buffer.concat([Buffer.from([5, 32, 0, 4]), sized(rdma(0, 1, Buffer.from(call)), rdma(1, 0, readRequest), rdma(2, 2, le32(7)), rdma(3, 16, Buffer.alloc(0)))]));
write("rdma_message", "credit-flood", Buffer.concat([Buffer.from([5, 32, 0, 8]), sized(...Array.from({ length: 8 }, () => rdma(3, 0xffff, Buffer.alloc(0))))]));
write("rdma_message", "short", Buffer.concat([Buffer.from([3, 1, 0, 2]), sized(Buffer.from([1, 2, 3]), rdma(9, 0, Buffer.alloc(4)))]));
console.log(`corpus written to ${root}`);
