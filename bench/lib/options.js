// Command line of bench/echo.js: what to run (drivers × workloads × repeats), how long,
// where results go. `--quick` is a short pass with fewer repeats and shorter windows.
import { parseArgs } from "node:util";

import { positiveInt } from "./cli.js";
import { DRIVERS, driverById } from "./drivers.js";

const USAGE = `usage: node bench/echo.js [options]
  --quick               short pass: 3 repeats, 0.2 s warm-up, 0.5 s measured per run
  --reps N              repeats of every configuration, interleaved (default 5, quick 3)
  --warmup-ms MS        warm-up per run, not recorded (default 500, quick 200)
  --measure-ms MS       measured window per run (default 2000, quick 500)
  --inflight LIST       requests in flight, comma-separated (default 1,64)
  --payload BYTES       echo payload size, >= 4 (default 64)
  --drivers LIST        comma-separated, from: ${DRIVERS.map((d) => d.id + (d.optional ? " (optional)" : "")).join(", ")}
                        (default: all but the optional ones)
  --idle-wait-ms MS     before each run, wait up to MS for the box to be >= 92 % idle (default 3000, quick 1000)
  --no-pin              do not pin client and server to CPUs with taskset
  --out DIR             where echo-<timestamp>.json/.svg go (default bench/results)
  --help`;

/** Parsed, validated options; throws with the usage text on bad input. */
export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      reps: { type: "string" },
      "warmup-ms": { type: "string" },
      "measure-ms": { type: "string" },
      inflight: { type: "string", default: "1,64" },
      payload: { type: "string", default: "64" },
      drivers: { type: "string" },
      "idle-wait-ms": { type: "string" },
      "no-pin": { type: "boolean", default: false },
      out: { type: "string", default: new URL("../results/", import.meta.url).pathname },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) return { help: USAGE };
  const quick = values.quick;
  const payloadBytes = positiveInt("--payload", values.payload, 4);
  const inflight = values.inflight.split(",").map((n) => positiveInt("--inflight", n));
  const drivers = (values.drivers ? values.drivers.split(",") : DRIVERS.filter((d) => !d.optional).map((d) => d.id)).map((id) => driverById(id.trim()));
  return {
    quick,
    reps: positiveInt("--reps", values.reps ?? (quick ? "3" : "5")),
    warmupMs: positiveInt("--warmup-ms", values["warmup-ms"] ?? (quick ? "200" : "500"), 0),
    measureMs: positiveInt("--measure-ms", values["measure-ms"] ?? (quick ? "500" : "2000")),
    idleWaitMs: positiveInt("--idle-wait-ms", values["idle-wait-ms"] ?? (quick ? "1000" : "3000"), 0),
    workloads: inflight.map((n) => ({ payloadBytes, inflight: n })),
    drivers,
    pin: !values["no-pin"],
    outDir: values.out,
  };
}

export { USAGE };
