// The raw peer of the hostile tests (support.ts) against a plain node:net Unix server that
// closes the connection under it, at a moment the test chooses. Regression test for the
// property test's "neither PONG nor close" flake on uring-unix: a server that shut the
// connection down right before the peer's PING makes the write fail (EPIPE), and Node
// emits the socket's "close" only a loop turn or more later; pingPong() must wait for it
// so `isClosed` reports the close the server made.

import { once } from "node:events";
import * as net from "node:net";
import { expect, it, onTestFinished } from "vitest";
import { listenUrl } from "../channel/engines.js";
import { RawPeer } from "./support.js";

/** A Unix server and the server side of one connection to it from a RawPeer. */
async function connectedPair(): Promise<{ peer: RawPeer; serverSide: net.Socket }> {
  const url = listenUrl("unix");
  const server = net.createServer();
  onTestFinished(() => void server.close());
  await new Promise<void>((resolve) => server.listen(url.slice("unix://".length), resolve));
  const accepted = once(server, "connection") as Promise<[net.Socket]>;
  const peer = await RawPeer.connect(url);
  const [serverSide] = await accepted;
  serverSide.on("error", () => undefined);
  onTestFinished(() => void serverSide.destroy());
  return { peer, serverSide };
}

it("pingPong after the server closed the socket (the write fails with EPIPE): false, and the close is seen", async () => {
  const { peer, serverSide } = await connectedPair();
  serverSide.destroy(); // closes the fd now; the peer has not read the EOF yet
  expect(await peer.pingPong(1, 2000)).toBe(false);
  expect(peer.isClosed, "the server closed the connection: the peer says so").toBe(true);
});

it("pingPong after the server ended its side (our side ended on its FIN): false, and the close is seen", async () => {
  const { peer, serverSide } = await connectedPair();
  serverSide.end();
  await once(peer.socket, "end");
  expect(await peer.pingPong(2, 2000)).toBe(false);
  expect(peer.isClosed).toBe(true);
});

it("pingPong on an open connection: false after the timeout, and the connection still open", async () => {
  const { peer } = await connectedPair();
  expect(await peer.pingPong(3, 50)).toBe(false);
  expect(peer.isClosed).toBe(false);
});
