// A raw peer over ANY engine's Channel API (shm:// above all, whose rings no node:net peer
// can speak): it sends whatever frame bodies the test builds (allocate() + send(): the
// channel does its own framing) and parses every frame it receives (raw-link.ts). As a
// client it connects to a server under test; as a server (ChannelRawServer) it accepts the
// client under test and runs a script on each connection, as raw-server.ts does over
// node:net, so the client-side attacks (client-attack.ts) run on it unchanged.

import { onTestFinished } from "vitest";
import type { Channel, ChannelEngine, ChannelEvents } from "../../src/channel/channel.js";
import { RawLink, runScript } from "./raw-link.js";
import type { Script } from "./raw-link.js";

/** One raw connection over a Channel. */
export class ChannelRawPeer extends RawLink {
  #channel: Channel | undefined;

  /** Connects to `url` as a client (it parses server frames); closed when the test ends. */
  static async connect(engine: ChannelEngine, url: string): Promise<ChannelRawPeer> {
    const peer = new ChannelRawPeer(true);
    peer.#channel = await engine.connect(url, peer.#events());
    onTestFinished(() => peer.destroy());
    return peer;
  }

  /** The callbacks of this peer's channel. */
  #events(): ChannelEvents {
    return {
      // The view is valid only during onFrame: parsed frames keep views of a copy.
      onFrame: (body) => this.receive(new Uint8Array(body)),
      onClose: () => this.markClosed(),
    };
  }

  /**
   * Sends each body as one frame, waiting for ring or region space while the other side
   * is slower; resolves false once the channel is gone.
   */
  async send(...bodies: Uint8Array[]): Promise<boolean> {
    const channel = this.#channel as Channel;
    for (const body of bodies) {
      if (channel.closed) return false;
      let lease;
      try {
        lease = channel.allocate(body.byteLength);
      } catch (e) {
        if ((e as { code?: string }).code !== "ERR_REGION_FULL") throw e;
        await channel.waitForSpace(body.byteLength, 10_000);
        if (channel.closed) return false;
        lease = channel.allocate(body.byteLength);
      }
      lease.bytes.set(body);
      channel.send(lease);
    }
    return true;
  }

  /** Closes the channel, dropping what it had not sent. */
  destroy(): void {
    this.#channel?.close(true);
  }

  /** A server's connection: parses client frames. */
  static accepted(channel: Channel): { peer: ChannelRawPeer; events: ChannelEvents } {
    const peer = new ChannelRawPeer(false);
    peer.#channel = channel;
    return { peer, events: peer.#events() };
  }
}

/** A raw server over a Channel engine: one script per accepted connection (index 0, 1, …). */
export class ChannelRawServer {
  url = "";
  readonly connections: ChannelRawPeer[] = [];

  /**
   * Listens on `url` with `engine`. With `answerHello` (default), each connection gets a
   * correct server HELLO once the client's arrived, then the script runs.
   */
  static async listen(engine: ChannelEngine, url: string, script: Script<ChannelRawPeer>, answerHello = true): Promise<ChannelRawServer> {
    const raw = new ChannelRawServer();
    const listener = await engine.listen(url, (channel) => {
      const { peer, events } = ChannelRawPeer.accepted(channel);
      runScript(peer, raw.connections.push(peer) - 1, script, answerHello, () => peer.destroy());
      return events;
    });
    onTestFinished(async () => {
      for (const c of raw.connections) c.destroy();
      await listener.close();
    });
    raw.url = listener.url;
    return raw;
  }
}
