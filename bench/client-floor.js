// What a streamed 64 B message costs the client above any transport (issue 14): the
// parts of the receive path that stay whatever the channel does, measured in one process
// without a channel, so that their sum with the raw channel's own client CPU per message
// (bench/connect.js --workload stream, driver channel-stream-uring-tcp, same sitting) is
// the floor of a Connect client on this machine:
//   connect-es:          createClient(BenchService).stream() read with `for await` over a
//                        transport whose every message is ready (next() resolves at once):
//                        the user's API alone, with nothing to decode;
//   decode:              src/protobuf's decoder of the 64 B EchoMessage under the default
//                        "copy" policy (its bytes field copied out of the frame);
//   connect-es + decode: both, the transport decoding each message as it hands it over;
//   connect-es unary:    createClient(BenchService).echo() awaited one call at a time over a
//                        transport that answers at once: the per-call floor of the API;
//   unary + messages:    the same, the transport also doing what any transport must per
//                        call: encode the request (this package's encoder, into a reused
//                        buffer), decode the 64 B reply ("copy"), and make the response's
//                        header and trailer. With the raw echo's client CPU per round trip
//                        (bench/connect.js, channel-echo-uring-tcp, same sitting) it is the
//                        floor of a unary Connect client here.
// CPU (user + system) per message; rounds interleave the variants (order rotated), the
// table shows the median (min–max) over rounds.
//   node bench/client-floor.js [--rounds N] [--messages N] [--out DIR]   (after npm run build:ts)
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";

import { decodeFrom, encodedSize, encodeInto } from "../dist/protobuf/index.js";
import { BenchService, EchoMessageSchema, StreamRequestSchema } from "./gen/bench/v1/bench_pb.js";
import { cell } from "./lib/format.js";
import { machineInfo } from "./lib/machine.js";
import { spread } from "./lib/runs.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    messages: { type: "string", default: "1000000" },
    out: { type: "string", default: fileURLToPath(new URL("./results", import.meta.url)) },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("usage: node bench/client-floor.js [--rounds N] [--messages N per round and variant] [--out DIR]");
  process.exit(0);
}
const ROUNDS = Number(values.rounds);
const MESSAGES = Number(values.messages);

const bytes = toBinary(EchoMessageSchema, create(EchoMessageSchema, { payload: new Uint8Array(64).fill(0x62), seq: 7n }));
const ready = create(EchoMessageSchema, { payload: new Uint8Array(64).fill(0x62), seq: 7n });
const counts = { copies: 0, copiedBytes: 0, framesHeld: 0 };

/** A connect-es Transport whose server streams hand out `n` messages, each from `next()`. */
function readyTransport(next, n) {
  return {
    unary: (method) =>
      Promise.resolve({ stream: false, service: method.parent, method, header: new Headers(), message: next(), trailer: new Headers() }),
    async stream(method, _signal, _timeoutMs, _header, input) {
      for await (const _ of input); // the request, as a transport sends it
      let left = n;
      return {
        stream: true,
        service: method.parent,
        method,
        header: new Headers(),
        trailer: new Headers(),
        message: {
          [Symbol.asyncIterator]: () => ({
            next: () => Promise.resolve(left-- > 0 ? { done: false, value: next() } : { done: true, value: undefined }),
          }),
        },
      };
    },
  };
}

/** A connect-es Transport whose unary calls encode the request and decode a ready reply's bytes: the per-call work of any transport. */
function messageTransport() {
  const target = new Uint8Array(256);
  return {
    unary(method, _signal, _timeoutMs, _header, input) {
      // Size, then write into the buffer: what the send path does into a lease.
      const size = encodedSize(method.input, input);
      if (encodeInto(method.input, input, target, 0) !== size) throw new Error("encode check failed");
      const message = decodeFrom(method.output, bytes, "copy", { counts });
      return Promise.resolve({ stream: false, service: method.parent, method, header: new Headers(), message, trailer: new Headers() });
    },
  };
}

/** Reads a server stream of `n` messages through createClient; CPU µs spent, and a check. */
async function readStream(transport, n) {
  const client = createClient(BenchService, transport);
  const request = create(StreamRequestSchema, { payloadBytes: 64, count: BigInt(n) });
  let check = 0;
  const cpu0 = process.cpuUsage();
  for await (const message of client.stream(request)) check += message.payload.byteLength;
  const cpu = process.cpuUsage(cpu0);
  if (check !== 64 * n) throw new Error(`read ${check} payload bytes, expected ${64 * n}`);
  return cpu.user + cpu.system;
}

/** `n` unary calls one after the other through createClient; CPU µs spent. */
async function callUnary(transport, n) {
  const client = createClient(BenchService, transport);
  const request = create(EchoMessageSchema, { payload: new Uint8Array(64), seq: 1n });
  let check = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) check += (await client.echo(request)).payload.byteLength;
  const cpu = process.cpuUsage(cpu0);
  if (check !== 64 * n) throw new Error("unary check failed");
  return cpu.user + cpu.system;
}

/** Decodes `n` messages in a loop; CPU µs spent. */
function decodeLoop(n) {
  let check = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) check += decodeFrom(EchoMessageSchema, bytes, "copy", { counts }).payload.byteLength;
  const cpu = process.cpuUsage(cpu0);
  if (check !== 64 * n) throw new Error("decode check failed");
  return cpu.user + cpu.system;
}

const VARIANTS = [
  { id: "connect-es", run: (n) => readStream(readyTransport(() => ready, n), n) },
  { id: "decode", run: (n) => decodeLoop(n) },
  { id: "connect-es + decode", run: (n) => readStream(readyTransport(() => decodeFrom(EchoMessageSchema, bytes, "copy", { counts }), n), n) },
  { id: "connect-es unary", perCall: true, run: (n) => callUnary(readyTransport(() => ready, 0), Math.ceil(n / 4)) },
  { id: "unary + messages", perCall: true, run: (n) => callUnary(messageTransport(), Math.ceil(n / 4)) },
];

const nsPerMessage = new Map(VARIANTS.map((v) => [v.id, []]));
for (const v of VARIANTS) await v.run(Math.min(MESSAGES, 200_000)); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < VARIANTS.length; k++) {
    const v = VARIANTS[(round + k) % VARIANTS.length];
    const cpuUs = await v.run(MESSAGES);
    nsPerMessage.get(v.id).push((cpuUs * 1000) / (v.perCall ? Math.ceil(MESSAGES / 4) : MESSAGES));
  }
  process.stderr.write(`\rround ${round + 1}/${ROUNDS}`);
}
process.stderr.write("\n");

const rows = VARIANTS.map((v) => {
  const ns = spread(nsPerMessage.get(v.id));
  return { id: v.id, nsPerMessage: ns, messagesPerSecAlone: spread(nsPerMessage.get(v.id).map((x) => 1e9 / x)) };
});
console.log(`\nClient CPU per streamed 64 B message above the transport, ${ROUNDS} rounds of ${MESSAGES.toLocaleString("en-US")} messages:`);
console.log("| part | CPU ns per message (unary: per call) | per second if it were all |");
console.log("|---|---|---|");
for (const r of rows) console.log(`| ${r.id} | ${cell(r.nsPerMessage, 0)} | ${cell(r.messagesPerSecAlone, 0)} |`);
console.log("Add the raw channel's client CPU per message (bench/connect.js --workload stream, channel-stream-uring-tcp) for the floor of a Connect client here;");
console.log("for unary, add the raw echo's client CPU per round trip (bench/connect.js, channel-echo-uring-tcp) to \"unary + messages\".");

mkdirSync(values.out, { recursive: true });
const file = `${values.out}/client-floor-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
writeFileSync(file, JSON.stringify({ machine: machineInfo(), rounds: ROUNDS, messages: MESSAGES, rows }, null, 2));
console.log(`JSON: ${file}`);
