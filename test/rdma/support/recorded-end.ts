// Channel ends that record what reached them, for the RDMA fault tests (send-failure,
// read-token-reuse, async-cq-error): each frame's bytes (copied out of the slot), whether
// the end closed and with what error; a server whose accepted ends are recorded in order;
// and a send of one filled frame.
import type { Channel, ChannelEvents } from "../../../src/channel/channel.js";
import type { RdmaEngine } from "../../../src/channel/rdma-engine.js";

/** What one end of a connection received and how it ended. */
export interface RecordedEnd {
  /** Every frame received, in order, copied. */
  readonly frames: Uint8Array[];
  closed: boolean;
  error: (Error & { code?: string }) | undefined;
  /** The events to open or accept the connection with. */
  readonly events: ChannelEvents;
}

export function recordedEnd(): RecordedEnd {
  const end: RecordedEnd = {
    frames: [],
    closed: false,
    error: undefined,
    events: {
      onFrame: (frame) => void end.frames.push(frame.slice()),
      onClose: (error) => {
        end.closed = true;
        end.error = error;
      },
    },
  };
  return end;
}

/** `server` listening on `url`, every connection it accepts recorded in `accepted` (in accept order). */
export async function listenRecorded(server: RdmaEngine, url: string): Promise<{ url: string; accepted: RecordedEnd[] }> {
  const accepted: RecordedEnd[] = [];
  const listener = await server.listen(url, () => {
    const end = recordedEnd();
    accepted.push(end);
    return end.events;
  });
  return { url: listener.url, accepted };
}

/** Sends one frame of `bytes` (a byte array, or a size filled with `size & 0xff`). */
export function sendFrame(channel: Channel, bytes: ArrayLike<number> | number): void {
  const lease = channel.allocate(typeof bytes === "number" ? bytes : bytes.length);
  if (typeof bytes === "number") lease.bytes.fill(bytes & 0xff);
  else lease.bytes.set(bytes);
  channel.send(lease);
}
