// Errors of the wire-protocol layer. They carry a Node-style `code` so that the Connect
// layer can map them to ConnectError codes without parsing messages.

/** A peer violated the protocol (malformed frame, bad state transition). */
export class ProtocolError extends Error {
  /** Always "ERR_PROTOCOL". */
  readonly code = "ERR_PROTOCOL";
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Why a stream ended without its normal END: the connection is gone or refused it. */
export class StreamResetError extends Error {
  /**
   * ERR_CONNECTION_CLOSED: the channel closed; ERR_PROTOCOL: this or the peer's side
   * found a protocol violation; ERR_GOAWAY: the peer is draining and never saw the call;
   * ERR_HANDSHAKE: no compatible HELLO; ERR_SLOW_PEER: the peer stopped reading what this
   * side must send it (docs/LIMITS.md), so the connection was closed; ERR_KEEPALIVE: a
   * silent peer did not answer a keepalive PING in time.
   */
  readonly code: "ERR_CONNECTION_CLOSED" | "ERR_PROTOCOL" | "ERR_GOAWAY" | "ERR_HANDSHAKE" | "ERR_SLOW_PEER" | "ERR_KEEPALIVE";
  /** A Connect code (numeric) suggested for the calls that fail with this error. */
  readonly status: number;
  constructor(code: StreamResetError["code"], status: number, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "StreamResetError";
    this.code = code;
    this.status = status;
  }
}
