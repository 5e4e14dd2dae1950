// The CommonJS entry (package.json exports["."].require, compiled to dist/cjs.cjs).
// connect-rdma is an ES module. Where Node can require() ES modules (>= 20.19, >= 22.12)
// this hands CommonJS callers the same module; where it cannot, it throws an Error that
// says what to write instead: `await import("connect-rdma")`.

function loadConnectRdma(): unknown {
  try {
    return require("./index.js");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_REQUIRE_ESM" || code === "ERR_REQUIRE_ASYNC_MODULE") {
      const fix = new Error(
        "connect-rdma is an ES module and this Node cannot require() it " +
          `(Node ${process.versions.node}; require() of ES modules works from Node 20.19 / 22.12 on). ` +
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
