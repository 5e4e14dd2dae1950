// The receive-side state machine of a stream as pure functions (docs/PROTOCOL.md §4):
// given what a stream has received so far and the next frame, the state after it, the
// message bytes to charge against the receive window, and whether the stream ends — or a
// ProtocolError. One function per role; CREDIT never gets here (the stream takes it).
//   client (frames from the server): HEADERS? MESSAGE* END, or CANCEL at any point
//   server (frames from the client): CALL_START MESSAGE* END(half-close), or CANCEL

import { FrameKind } from "./constants.js";
import type { Frame } from "./frames.js";
import { ProtocolError } from "./protocol-error.js";

/** Frames a stream's handler receives (CREDIT is handled by the stream itself). */
export type StreamFrame = Exclude<Frame, { streamId: 0 } | { kind: 7 }>;

/** What a stream has received so far. */
export interface ReceiveState {
  /** Client: the response headers arrived (HEADERS, or an END carrying them). */
  readonly headersReceived: boolean;
  /** The peer sends nothing more on this stream (half-close, END, CANCEL). */
  readonly remoteDone: boolean;
}

/** The outcome of one received frame. */
export interface Transition extends ReceiveState {
  /** Bytes of a message the frame carries, to charge against the receive window. */
  readonly messageBytes: number | undefined;
  /** The stream ends with this frame. */
  readonly close: boolean;
}

function next(state: ReceiveState, change: Partial<Transition>): Transition {
  return {
    headersReceived: change.headersReceived ?? state.headersReceived,
    remoteDone: change.remoteDone ?? state.remoteDone,
    messageBytes: change.messageBytes,
    close: change.close ?? false,
  };
}

/** Server: the state of a stream its CALL_START opened. */
export function serverStart(frame: Extract<Frame, { kind: typeof FrameKind.CALL_START }>): Transition {
  return { headersReceived: false, remoteDone: frame.endStream, messageBytes: frame.message?.byteLength, close: false };
}

/** Client: a frame the server sent on stream `id`. */
export function clientReceive(id: number, state: ReceiveState, frame: StreamFrame): Transition {
  switch (frame.kind) {
    case FrameKind.HEADERS:
      if (state.headersReceived) throw new ProtocolError(`second HEADERS on stream ${id}`);
      return next(state, { headersReceived: true, messageBytes: frame.message?.byteLength });
    case FrameKind.MESSAGE:
      if (!state.headersReceived) throw new ProtocolError(`MESSAGE before HEADERS on stream ${id}`);
      return next(state, { messageBytes: frame.message.byteLength });
    case FrameKind.END:
      if (frame.halfClose) throw new ProtocolError("client END sent by a server");
      if (frame.headers !== undefined && state.headersReceived) {
        throw new ProtocolError(`END with headers after HEADERS on stream ${id}`);
      }
      return next(state, { remoteDone: true, close: true });
    case FrameKind.CANCEL:
      return next(state, { remoteDone: true, close: true });
    default:
      throw new ProtocolError(`unexpected frame kind ${frame.kind} from a server`);
  }
}

/** Server: a frame the client sent on stream `id` after CALL_START. */
export function serverReceive(id: number, state: ReceiveState, frame: StreamFrame): Transition {
  switch (frame.kind) {
    case FrameKind.MESSAGE:
      if (state.remoteDone) throw new ProtocolError(`MESSAGE after half-close on stream ${id}`);
      return next(state, { messageBytes: frame.message.byteLength, remoteDone: frame.endStream });
    case FrameKind.END:
      if (state.remoteDone) throw new ProtocolError(`second half-close on stream ${id}`);
      return next(state, { remoteDone: true });
    case FrameKind.CANCEL:
      return next(state, { remoteDone: true, close: true });
    default:
      throw new ProtocolError(`unexpected frame kind ${frame.kind} from a client`);
  }
}
