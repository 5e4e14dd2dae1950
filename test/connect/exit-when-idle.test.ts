// What keeps a process alive (docs/LIFETIMES.md, "What keeps the process alive"): a client
// that makes one call and returns without transport.close() exits on its own, on every
// engine; a call in flight keeps it alive until its answer is in; a listening server keeps
// its process alive. Each case runs in a child process (test/fixtures/), since the event
// loop of the test runner itself always has other work.
import { createClient } from "@connectrpc/connect";
import { tmpdir } from "node:os";
import { describe, expect, it, onTestFinished } from "vitest";
import { createUringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { uringUnavailable } from "../channel/engines.js";
import { shmUnavailable, shmUrl } from "../channel/shm-suite.js";
import { gatedDescribe } from "../support/capability-gate.js";

// A bound on waiting for a child on a loaded machine, never a speed check: without the
// unref the client never exits at all.
const EXIT_WAIT_MS = 30_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let sockets = 0;

/** A market server in its own process (listening until its stdin ends), and its URL. */
async function startServer(listenUrl: string, engine?: string): Promise<{ server: Fixture; url: string }> {
  requireDist(["index", "connect", "frame", "channel"]);
  const server = new Fixture("market-server.js", [listenUrl], [], engine ? ["env", `CONNECT_RDMA_ENGINE=${engine}`] : []);
  onTestFinished(() => server.stop());
  const { url } = await server.line<{ url: string }>();
  return { server, url };
}

/** Runs one-call-client.js against `url` and waits for it to exit by itself. */
async function oneCall(url: string, delayMs: number, engine?: string) {
  const client = new Fixture("one-call-client.js", [url, String(delayMs)], [], engine ? ["env", `CONNECT_RDMA_ENGINE=${engine}`] : []);
  onTestFinished(() => client.stop());
  const exit = await client.exit(EXIT_WAIT_MS);
  return { exit, lines: client.lines, stderr: client.stderr.join("") };
}

function exitsAfterOneCall(engine: string | undefined, listenUrl: () => string): void {
  it("exits on its own after one call, without closing the transport", async () => {
    const { url } = await startServer(listenUrl(), engine);
    const { exit, lines, stderr } = await oneCall(url, 0, engine);
    expect(exit, stderr).toEqual({ code: 0, signal: null });
    expect(lines).toEqual([{ symbol: "ACME" }]);
  });
}

const tcp = () => "tcp://127.0.0.1:0";
const unix = () => `unix://${tmpdir()}/crdma-exit-${process.pid}-${++sockets}.sock`;

gatedDescribe("process exit: io_uring engine", uringUnavailable(), () => {
  describe("tcp://", () => exitsAfterOneCall(undefined, tcp));
  describe("unix://", () => exitsAfterOneCall(undefined, unix));

  it("a call in flight keeps the process alive until its answer (handler answers after 300 ms)", async () => {
    const { server, url } = await startServer(tcp());
    const { exit, lines, stderr } = await oneCall(url, 300);
    expect(exit, stderr).toEqual({ code: 0, signal: null });
    // Exiting early would leave the top-level await unsettled: no answer, exit code 13.
    expect(lines).toEqual([{ symbol: "ACME" }]);
    expect(await server.line()).toEqual({ started: "ACME" });
  });

  it("a listening server keeps its process alive, and serves after being idle", async () => {
    const { server, url } = await startServer(tcp());
    await sleep(500);
    expect(server.child.exitCode).toBeNull();
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    const quote = await createClient(MarketService, transport).getQuote({ symbol: "IDLE" });
    expect(quote.symbol).toBe("IDLE");
    expect(server.child.exitCode).toBeNull();
  });
});

describe("process exit: node:net engine (CONNECT_RDMA_ENGINE=net)", () => {
  describe("tcp://", () => exitsAfterOneCall("net", tcp));
  describe("unix://", () => exitsAfterOneCall("net", unix));

  it("a call in flight keeps the process alive until its answer (handler answers after 300 ms)", async () => {
    const { url } = await startServer(tcp(), "net");
    const { exit, lines, stderr } = await oneCall(url, 300, "net");
    expect(exit, stderr).toEqual({ code: 0, signal: null });
    expect(lines).toEqual([{ symbol: "ACME" }]);
  });
});

gatedDescribe("process exit: shm engine", shmUnavailable(), () => {
  exitsAfterOneCall(undefined, shmUrl);
});
