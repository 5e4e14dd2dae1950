// The command line every example shares: where to serve (--url: tcp://, unix:// or
// rdma://), which local address RDMA clients bind (--local), plus the example's own
// numeric options; --help prints the usage. Also makes the clients' transports: one
// engine shared by all of them (one io_uring, or one RDMA device context, per process).
import { parseArgs } from "node:util";

import { createRdmaTransport, createUringTransport, engineForUrl } from "connect-rdma";

/**
 * Parses process.argv. `numbers`: { name: [default, description] } for integer options.
 * Exits 0 after printing `usage` for --help, 2 on a bad command line.
 */
export function exampleOptions(usage, numbers = {}) {
  const options = {
    url: { type: "string", default: "tcp://127.0.0.1:0" },
    local: { type: "string" },
    help: { type: "boolean", default: false },
  };
  for (const name of Object.keys(numbers)) options[name] = { type: "string" };
  const text = `${usage}

  --url URL      where the server listens (default tcp://127.0.0.1:0; also unix:///path,
                 rdma://ip:0 with the server's RDMA device address)
  --local IP     rdma:// only: the clients' source address (selects their RDMA device)
${Object.entries(numbers)
  .map(([name, [fallback, description]]) => `  --${`${name} N`.padEnd(13)}${description} (default ${fallback})`)
  .join("\n")}
  --help         this text`;
  let values;
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options, strict: true }));
  } catch (error) {
    console.error(`${error.message}\n\n${text}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(text);
    process.exit(0);
  }
  const out = { url: values.url, local: values.local };
  for (const [name, [fallback]] of Object.entries(numbers)) {
    const value = values[name] === undefined ? fallback : Number(values[name]);
    if (!Number.isInteger(value) || value < 0) {
      console.error(`--${name} must be a non-negative integer, got "${values[name]}"\n\n${text}`);
      process.exit(2);
    }
    out[name] = value;
  }
  if (out.local !== undefined && !out.url.startsWith("rdma://")) {
    console.error(`--local applies to rdma:// URLs only\n\n${text}`);
    process.exit(2);
  }
  return out;
}

/**
 * `count` transports to `url` sharing one engine the caller closes via close().
 * rdma:// URLs get RDMA transports bound to `local`; tcp:// and unix:// get io_uring
 * (or the node:net fallback where io_uring is unavailable).
 */
export function clientTransports(url, { local, count, interceptors = [] }) {
  const rdma = url.startsWith("rdma://");
  const engine = engineForUrl(url, rdma && local ? { localAddress: local } : {});
  const transports = Array.from({ length: count }, () =>
    // RDMA connection setup (rdma_cm address and route resolution, QP handshake) is far
    // slower than TCP's, very much so on soft-RoCE inside an emulated guest: allow 60 s.
    rdma ? createRdmaTransport({ url, engine, interceptors, connectTimeoutMs: 60_000 }) : createUringTransport({ url, engine, interceptors }),
  );
  return {
    engine,
    transports,
    async close() {
      await Promise.all(transports.map((t) => t.close()));
      await engine.close();
    },
  };
}
