// A frame larger than the engine's whole lease area can never be reassembled: its
// connection is closed with ERR_REGION_FULL, and another connection of the same engine
// keeps being served (docs/LIFETIMES.md, docs/LIMITS.md "lease area"). Raw node:net peers
// against the real engines; the server echoes what it receives.
import * as net from "node:net";
import { expect, it, onTestFinished } from "vitest";
import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { CHANNELS, until } from "./support.js";

/** A raw peer on `url` that collects what it receives. */
async function rawPeer(url: string): Promise<{ socket: net.Socket; received: () => Buffer; closed: () => boolean }> {
  const target = new URL(url);
  const socket = target.protocol === "unix:" ? net.connect(target.pathname) : net.connect(Number(target.port), target.hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on("data", (chunk) => chunks.push(chunk));
  socket.on("error", () => undefined);
  socket.on("close", () => (closed = true));
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed };
}

function framed(body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32LE(body.byteLength);
  return Buffer.concat([header, body]);
}

for (const channel of CHANNELS) {
  gatedDescribe(`a frame larger than the lease area: ${channel.name}`, channel.unavailable?.(), () => {
    it("closes that connection with ERR_REGION_FULL; another connection keeps its echoes", async () => {
      const options = { maxFrameBytes: 1 << 20, region: { leaseBytes: 8192, slotSize: 4096, recvSlots: 16 } };
      const engine = channel.engine === "uring" ? new UringEngine(options) : new NetEngine(options);
      onTestFinished(() => engine.close());
      const closes: (string | undefined)[] = [];
      const listener = await engine.listen(channel.url(), (ch) => ({
        onFrame(frame) {
          const lease = ch.allocate(frame.byteLength);
          lease.bytes.set(frame);
          ch.send(lease);
        },
        onClose: (e) => void closes.push((e as { code?: string } | undefined)?.code ?? "clean"),
      }));
      onTestFinished(() => listener.close());

      const good = await rawPeer(listener.url);
      onTestFinished(() => void good.socket.destroy());
      good.socket.write(framed(Buffer.from("before")));
      await until(() => good.received().byteLength >= 10, 5000, "the first echo");

      const bad = await rawPeer(listener.url);
      onTestFinished(() => void bad.socket.destroy());
      bad.socket.write(framed(Buffer.alloc(20_000, 0x5a))); // 20,000 bytes > the 8,192-byte lease area
      await until(() => bad.closed(), 5000, "the oversized frame's connection to close");
      expect(closes).toEqual(["ERR_REGION_FULL"]);
      expect(bad.received().byteLength, "nothing echoed to the oversized frame").toBe(0);

      good.socket.write(framed(Buffer.from("after")));
      await until(() => good.received().byteLength >= 19, 5000, "the second echo");
      expect(good.received()).toEqual(Buffer.concat([framed(Buffer.from("before")), framed(Buffer.from("after"))]));
      expect(good.closed()).toBe(false);
    });
  });
}
