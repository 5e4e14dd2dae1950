// Per-method latency histograms from a Connect interceptor — the observability piece of
// the order-entry example, usable as is on clients (createUringTransport({ interceptors }))
// and servers (createServer({ interceptors })), with connect-rdma or with connect-node.
//
//   const latency = createLatencyRecorder();
//   const transport = createUringTransport({ url, interceptors: [latency.interceptor] });
//   ...
//   console.log(latency.rows());   // [{ method, count, errors, p50, p90, p99, p999, max }] in ns
//
// On a client the time runs from the call to its response (unary) or to the end of the
// response stream (streaming); on a server from the request's arrival at the interceptor
// to the handler's result (unary) or the last message sent. Failures are recorded too,
// counted by Connect code. Histograms are HDR (hdr-histogram-js, 3 significant digits).
import { Code, ConnectError } from "@connectrpc/connect";
import hdr from "hdr-histogram-js";

const HIGHEST_NS = 60e9;

/** A recorder with one histogram per method ("package.Service/Method"). */
export function createLatencyRecorder() {
  /** @type {Map<string, { histogram: import("hdr-histogram-js").Histogram, errors: Map<string, number> }>} */
  const methods = new Map();

  function record(key, started, error) {
    let entry = methods.get(key);
    if (!entry) {
      entry = {
        histogram: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_NS, numberOfSignificantValueDigits: 3 }),
        errors: new Map(),
      };
      methods.set(key, entry);
    }
    entry.histogram.recordValue(Math.min(Number(process.hrtime.bigint() - started), HIGHEST_NS));
    if (error !== undefined) {
      const code = ConnectError.from(error).code;
      entry.errors.set(code, (entry.errors.get(code) ?? 0) + 1);
    }
  }

  /** @type {import("@connectrpc/connect").Interceptor} */
  const interceptor = (next) => async (req) => {
    const key = `${req.service.typeName}/${req.method.name}`;
    const started = process.hrtime.bigint();
    let res;
    try {
      res = await next(req);
    } catch (error) {
      record(key, started, error);
      throw error;
    }
    if (!res.stream) {
      record(key, started, undefined);
      return res;
    }
    // Streaming response: the call ends with its last message.
    return {
      ...res,
      message: (async function* () {
        try {
          yield* res.message;
          record(key, started, undefined);
        } catch (error) {
          record(key, started, error);
          throw error;
        }
      })(),
    };
  };

  return {
    interceptor,
    /** One row per method, sorted by name; latencies in ns. */
    rows() {
      return [...methods.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([method, { histogram, errors }]) => ({
          method,
          count: histogram.totalCount,
          errors: Object.fromEntries([...errors].map(([code, n]) => [Code[code] ?? String(code), n])),
          // Percentiles are bucket tops (3 significant digits): never report one above the max.
          p50: Math.min(histogram.getValueAtPercentile(50), histogram.maxValue),
          p90: Math.min(histogram.getValueAtPercentile(90), histogram.maxValue),
          p99: Math.min(histogram.getValueAtPercentile(99), histogram.maxValue),
          p999: Math.min(histogram.getValueAtPercentile(99.9), histogram.maxValue),
          max: histogram.maxValue,
        }));
    },
    /** Frees the histograms' memory (hdr-histogram-js may use WebAssembly memory). */
    destroy() {
      for (const { histogram } of methods.values()) histogram.destroy();
      methods.clear();
    },
  };
}
