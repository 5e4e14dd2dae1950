// createRdmaTransport() and server.listen("rdma://…") as API: argument validation and
// the errors where this host has no RDMA device. RDMA traffic itself is tested inside
// the soft-RoCE guest (test/softroce/); here only what holds on any host.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { capabilities, createRdmaTransport, createServer } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "./market-service.js";

const rdma = capabilities().rdma;

describe("createRdmaTransport()", () => {
  it("takes rdma:// URLs only, and an IP address as localAddress", () => {
    expect(() => createRdmaTransport({ url: "tcp://127.0.0.1:1" })).toThrow(/needs an rdma:\/\/ip:port URL, got tcp:\/\//);
    expect(() => createRdmaTransport({ url: "rdma://127.0.0.1" })).toThrow(TypeError);
    expect(() => createRdmaTransport({ url: "rdma://127.0.0.1:1", localAddress: "eth0" })).toThrow(/localAddress must be an IPv4 or IPv6 address/);
    expect(() => createRdmaTransport({ url: "rdma://[::1]:1", localAddress: "::1" })).not.toThrow();
  });

  it("a call fails with Unavailable when nothing serves the address (or RDMA is missing)", async () => {
    const transport = createRdmaTransport({ url: "rdma://127.0.0.1:1", localAddress: "127.0.0.1", connectTimeoutMs: 2000 });
    onTestFinished(() => transport.close());
    const error = ConnectError.from(await createClient(MarketService, transport).getQuote({ symbol: "X" }).catch((e: unknown) => e));
    expect(error.code).toBe(Code.Unavailable);
    if (!rdma.available) expect(error.rawMessage).toContain("RDMA unavailable");
  });
});

describe.runIf(!rdma.available)(`server.listen("rdma://…") without RDMA (${rdma.reason ?? "available"})`, () => {
  it("rejects with ERR_RDMA_UNAVAILABLE and leaves the server usable", async () => {
    const server = createServer({ routes: marketRoutes(new ServerLog()) });
    onTestFinished(() => server.close(0));
    await expect(server.listen("rdma://127.0.0.1:0")).rejects.toMatchObject({ code: "ERR_RDMA_UNAVAILABLE" });
    expect(server.urls).toEqual([]);
    expect(await server.listen(`memory://rdma-api-${process.pid}`)).toMatch(/^memory:/);
  });
});
