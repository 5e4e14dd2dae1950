// The CommonJS entry (package.json exports["."].require, compiled to dist/cjs.cjs).
// connect-rdma is an ES module. Where Node can require() ES modules (>= 20.19, >= 22.12)
// this hands CommonJS callers the same module; where it cannot (an older Node, or the
// feature turned off by a flag), it throws an Error that says why and what to write
// instead: `await import("connect-rdma")`.

/** Why require() of an ES module failed here: a Node too old for it, or a flag that turned it off. */
function whyNoRequireEsm(): string {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  const capable = major >= 23 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
  if (!capable) return `Node ${process.versions.node} cannot require() it (require() of ES modules works from Node 20.19 / 22.12 on)`;
  const where = process.execArgv.includes("--no-experimental-require-module") ? "on the command line" : "in NODE_OPTIONS or the command line";
  return `require() of ES modules is turned off in this process (--no-experimental-require-module ${where}; Node ${process.versions.node} supports it otherwise)`;
}

function loadConnectRdma(): unknown {
  try {
    return require("./index.js");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_REQUIRE_ESM" || code === "ERR_REQUIRE_ASYNC_MODULE") {
      const fix = new Error(
        `connect-rdma is an ES module and ${whyNoRequireEsm()}. ` +
          'From CommonJS, load it with: const { createServer, createUringTransport } = await import("connect-rdma");',
        { cause: error },
      );
      (fix as Error & { code: string }).code = "ERR_CONNECT_RDMA_ESM_ONLY";
      throw fix;
    }
    throw error;
  }
}

module.exports = loadConnectRdma();
