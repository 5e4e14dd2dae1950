// The channel contract: one connection carrying length-delimited frames, whatever the
// engine underneath (io_uring, node:net, in-memory). Everything above src/channel/ talks
// to this interface only. Ownership rules (docs/LIFETIMES.md):
//   - allocate() hands a Lease to the caller; send() takes it back (the caller must not
//     touch it afterwards: it is released by the engine once the bytes left).
//   - a received frame is a view that is valid only during onFrame(); hold() turns it
//     into a Lease that keeps the memory until release().
// End of a connection (docs/CHANNELS.md §4): a peer may end only its sending side (a TCP
// half-close): onEnd() says so, and the channel stays open for send() until close(). A
// channel whose events have no onEnd closes itself then (queued frames still leave).

/** Which engine carries a channel. */
export type EngineName = "uring" | "net" | "memory" | "rdma" | "shm";

export type { Lease } from "../region.js";
import type { Lease } from "../region.js";
import type { ChannelPeer } from "./channel-peer.js";
import type { TlsFailure } from "./tls-failure.js";

/** Callbacks of one channel; each channel has exactly one set. */
export interface ChannelEvents {
  /**
   * One whole frame. The view is valid only until this call returns, unless
   * `channel.hold(frame)` was called during it.
   */
  onFrame(frame: Uint8Array): void;
  /**
   * Optional, for receivers that read frames in place: the same frame as onFrame, given
   * as the `length` bytes at `offset` of `memory` (one view of all of the engine's receive
   * memory, the same object on every call), so the receiver makes only the views it
   * keeps. Engines that read from such memory (the native ones) call it instead of
   * onFrame when it is there. The range is valid as onFrame's view is; `hold()` takes a
   * view of exactly that range.
   */
  onFrameAt?(memory: Uint8Array, offset: number, length: number): void;
  /**
   * The peer ended its side cleanly (a half-close: FIN after whole frames). No frame
   * follows; `send()` still works, and the peer still reads what is sent, until
   * `close()` — which the owner must call (when its answers are out). Without this
   * callback the channel closes itself at this point, as `close()` would. A peer that
   * is really gone shows up as onClose(error) on a later send. Called at most once,
   * never after onClose. Engines without half-close (rdma, memory) never call it.
   */
  onEnd?(): void;
  /**
   * The connection ended. Called exactly once: `error` is undefined after a local
   * `close()` or a clean end by the peer, an Error (with `code`) otherwise.
   */
  onClose(error: Error | undefined): void;
}

/** Counters of a channel or an engine. */
export interface ChannelStats {
  /** Frames delivered to onFrame(). */
  framesIn: number;
  /** Frames queued by send(). */
  framesOut: number;
  /** Bytes of the frames received (frame bodies, without the channel's length header). */
  bytesIn: number;
  /** Bytes of the frames sent. */
  bytesOut: number;
  /** Frames that straddled receive buffers and were copied once into a lease. */
  reassembled: number;
  /** Bytes of those frames. */
  reassembledBytes: number;
}

/** One connection. */
/** A frame a channel writes where it chooses (Channel.sendFrame): `byteLength` bytes, written by write(). */
export interface FrameWriter {
  readonly byteLength: number;
  write(bytes: Uint8Array): void;
}

export interface Channel {
  /** The engine carrying this channel ("uring", "net", "rdma", "memory"). */
  readonly engine: EngineName;
  /** Largest frame this channel sends or accepts, in bytes. */
  readonly maxFrameBytes: number;
  /** What this channel knows about its peer (src/channel/channel-peer.ts); engines fill what their transport tells. */
  readonly peer?: ChannelPeer;
  /** True once closed (locally or by the peer). */
  readonly closed: boolean;
  /** True once the peer ended its side (onEnd): no more frames arrive. */
  readonly peerEnded: boolean;
  /**
   * Lease bytes of frames handed to send() and not written out yet: what a peer that
   * stopped reading makes this side hold. 0 once closed.
   */
  readonly unsentBytes: number;
  /** Lease bytes of frames written out since the channel opened (only grows): the peer's progress. */
  readonly writtenBytes: number;
  /**
   * Bytes of the frame this channel is in the middle of receiving (its length header
   * included): 0 between frames, and while this side makes the peer wait (no memory to
   * reassemble into). Frame-oriented transports (RDMA SEND, memory) are always at 0.
   * The session bounds how long it may stay above 0 without growing.
   */
  readonly partialFrameBytes: number;
  /**
   * A lease of exactly `byteLength` writable bytes, to be filled and passed to send().
   * Throws RangeError above maxFrameBytes, and an Error with code "ERR_REGION_FULL"
   * when no memory is free right now, or when this channel already holds its share of
   * the region in unsent frames (engine option `maxUnsentBytes`; see waitForSpace()).
   */
  allocate(byteLength: number): Lease;
  /** Resolves when `byteLength` could be allocated; rejects (code "ERR_REGION_FULL") after timeoutMs. */
  waitForSpace(byteLength: number, timeoutMs: number): Promise<void>;
  /**
   * Queues the lease as one frame (its first `byteLength` bytes, default all) and takes
   * ownership of it. Frames queued in one event-loop turn leave together.
   * Throws an Error with code "ERR_CHANNEL_CLOSED" after close.
   */
  send(lease: Lease, byteLength?: number): void;
  /**
   * allocate(), write, send() in one step, into memory the channel chooses (io_uring: the
   * connection's send pack, several frames in one lease; see send-pack.ts). Returns false,
   * having written nothing, where allocate() would throw ERR_REGION_FULL; throws what
   * allocate() and send() throw otherwise, and what `frame.write` throws (nothing is sent).
   * Channels without it: allocate() and send().
   */
  sendFrame?(frame: FrameWriter): boolean;
  /** Keeps the memory of a frame received in the current onFrame() call alive. */
  hold(frame: Uint8Array): Lease;
  /**
   * Closes the connection; onClose(undefined) follows. Idempotent. Frames already sent
   * still leave (for a bounded time), unless `discard`: then they are dropped and their
   * leases come back at once (the peer stopped reading). On node:net and the native
   * engines, `close(true)` on a channel still in such a lingering close ends it now (an
   * engine that closed its channels first must not keep a session's discard waiting); a
   * memory channel's close completes in the next loop turn either way.
   */
  close(discard?: boolean): void;
  /** Counters of this channel since it opened. */
  stats(): ChannelStats;
  /**
   * Whether this connection keeps the process alive (default true), as a node:net
   * socket's ref()/unref(): the session clears it while no stream is open, so an idle
   * connection alone lets the process exit (docs/LIFETIMES.md, "What keeps the process alive").
   */
  keepAlive(on: boolean): void;
}

/** A listening endpoint. */
export interface Listener {
  /** The bound URL (port 0 resolved). */
  readonly url: string;
  /** Stops accepting; existing channels stay open. */
  close(): Promise<void>;
}

/** How listen() makes its endpoint. */
export interface ListenOptions {
  /**
   * unix:// and shm:// only: the permissions of the socket file, from its creation on
   * (default 0o600: only the owner may connect). Engines without socket files ignore it.
   */
  socketMode?: number;
  /**
   * TLS listeners only: told once about each connection that failed TLS (handshake
   * failed or timed out, plaintext client, client certificate refused) — never accepted,
   * except a refused client certificate, whose channel the server answers with GOAWAY.
   */
  onTlsFailure?: (failure: TlsFailure) => void;
  /**
   * TLS listeners only: bytes written unencrypted, before the close, to a client whose
   * first bytes are not TLS (the server's GOAWAY saying it speaks TLS).
   */
  plaintextAnswer?: Uint8Array;
  /**
   * tcp:// and unix:// (byte streams): the most an accepted connection's first frame may
   * announce; a larger length closes it with ERR_NOT_PROTOCOL at once (a peer speaking
   * another protocol, such as a TLS client, would otherwise be waited for). Default: no
   * bound beyond maxFrameBytes.
   */
  firstFrameMaxBytes?: number;
  /**
   * shm:// only: admit only peers running as one of `uids` or with a primary gid in `gids`
   * (SO_PEERCRED at accept, before the rendezvous sends the region: a refused peer never
   * holds its memfd). Other engines leave admission to the accept handler.
   */
  admit?: { readonly uids?: readonly number[]; readonly gids?: readonly number[] };
  /** With `admit`: told once for each peer refused (it never reaches the accept handler). */
  onRefused?: () => void;
}

/** Called for each accepted connection; returns that channel's callbacks. */
export type AcceptHandler = (channel: Channel) => ChannelEvents;

/** Something that makes channels: an engine. */
export interface ChannelEngine {
  /** Which engine this is. */
  readonly name: EngineName;
  /** Opens a connection to `url`; `events` receives its frames and its end. */
  connect(url: string, events: ChannelEvents): Promise<Channel>;
  /**
   * Listens on `url` (port 0: any free port; the Listener's url says which). A unix://
   * or shm:// path holding a stale socket file (nobody listens) is taken over; a live
   * one is EADDRINUSE; anything else there is an error (src/channel/unix-socket-file.ts).
   */
  listen(url: string, onAccept: AcceptHandler, options?: ListenOptions): Promise<Listener>;
  /** Closes every listener and channel of this engine and frees its memory. */
  close(): Promise<void>;
}
