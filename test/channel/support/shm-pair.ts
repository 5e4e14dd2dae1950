// Two shm:// engines for channel tests: a server engine whose channels are received into
// one Inbox, and a client engine (given, or made with the same ring size) connected to it.
// Both are closed when the test finishes. RegionKeepingEngine keeps each connection's
// shared region as a DataView, for tests that read or write its control words.
import { onTestFinished } from "vitest";
import type { Channel } from "../../../src/channel/channel.js";
import { ShmEngine } from "../../../src/channel/shm-engine.js";
import { shmUrl } from "../shm-suite.js";
import { Inbox } from "./inbox.js";

/** An engine that keeps each connection's shared region (its one ArrayBuffer) where a test can reach it. */
export class RegionKeepingEngine extends ShmEngine {
  readonly regions = new Map<number, DataView>();
  override bufferOf(id: number): ArrayBuffer | undefined {
    const buffer = super.bufferOf(id);
    if (buffer) this.regions.set(id, new DataView(buffer));
    return buffer;
  }
}

export interface ShmPair<E extends ShmEngine> {
  /** The client's engine. */
  engine: E;
  server: ShmEngine;
  client: Channel;
  /** What the client receives. */
  inbox: Inbox;
  /** What the server receives (its channel in `serverInbox.channel`). */
  serverInbox: Inbox;
}

export async function shmPair<E extends ShmEngine = ShmEngine>(ringBytes: number, clientEngine?: E): Promise<ShmPair<E>> {
  const server = new ShmEngine({ ringBytes });
  onTestFinished(() => server.close());
  const serverInbox = new Inbox();
  const listener = await server.listen(shmUrl(), (channel) => {
    serverInbox.channel = channel;
    return serverInbox;
  });
  const engine = clientEngine ?? (new ShmEngine({ ringBytes }) as E);
  onTestFinished(() => engine.close());
  const inbox = new Inbox();
  const client = await engine.connect(listener.url, inbox);
  inbox.channel = client;
  return { engine, server, client, inbox, serverInbox };
}
