// Two io_uring engines over loopback TCP for channel tests: `connections` channels from
// the sender to the receiver, each received into an Inbox (in accept order, which need
// not be the connect order). The engines go into `engines` for the test to close.
import type { Channel } from "../../../src/channel/channel.js";
import { UringEngine } from "../../../src/channel/uring-engine.js";
import { Inbox } from "./inbox.js";

export interface UringPair {
  sender: UringEngine;
  receiver: UringEngine;
  channels: Channel[];
  inboxes: Inbox[];
}

export async function uringPair(engines: UringEngine[], connections = 1): Promise<UringPair> {
  const sender = new UringEngine();
  const receiver = new UringEngine();
  engines.push(sender, receiver);
  const inboxes: Inbox[] = [];
  const listener = await receiver.listen("tcp://127.0.0.1:0", () => {
    const inbox = new Inbox();
    inboxes.push(inbox);
    return inbox;
  });
  const channels: Channel[] = [];
  for (let i = 0; i < connections; i++) channels.push(await sender.connect(listener.url, new Inbox()));
  for (let turn = 0; inboxes.length < connections && turn < 10_000; turn++) await new Promise((r) => setImmediate(r));
  if (inboxes.length < connections) throw new Error(`${inboxes.length} of ${connections} connections accepted`);
  return { sender, receiver, channels, inboxes };
}
