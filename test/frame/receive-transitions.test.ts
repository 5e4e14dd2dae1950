// The receive-side state machine of a stream as pure functions
// (src/frame/receive-transitions.ts): every legal step of each role, and each
// violation as a ProtocolError naming it.
import { describe, expect, it } from "vitest";
import { FrameKind } from "../../src/frame/constants.js";
import { clientReceive, serverReceive, serverStart } from "../../src/frame/receive-transitions.js";
import type { ReceiveState, StreamFrame } from "../../src/frame/receive-transitions.js";
import { ProtocolError } from "../../src/frame/protocol-error.js";

const fresh: ReceiveState = { headersReceived: false, remoteDone: false };
const message = new Uint8Array(5);
const headers = { kind: FrameKind.HEADERS, streamId: 1, metadata: [], message: undefined } as unknown as StreamFrame;
const headersWithMessage = { ...headers, message } as unknown as StreamFrame;
const msg = (endStream = false) => ({ kind: FrameKind.MESSAGE, streamId: 1, endStream, message }) as StreamFrame;
const serverEnd = (withHeaders: boolean) =>
  ({ kind: FrameKind.END, streamId: 1, halfClose: false, headers: withHeaders ? [] : undefined }) as unknown as StreamFrame;
const halfClose = { kind: FrameKind.END, streamId: 1, halfClose: true } as StreamFrame;
const cancel = { kind: FrameKind.CANCEL, streamId: 1, code: 1, reason: "" } as unknown as StreamFrame;

describe("client receive transitions", () => {
  it("HEADERS, MESSAGE, END: headers noted, messages charged, the stream ends", () => {
    const a = clientReceive(1, fresh, headersWithMessage);
    expect(a).toEqual({ headersReceived: true, remoteDone: false, messageBytes: 5, close: false });
    const b = clientReceive(1, a, msg());
    expect(b).toEqual({ headersReceived: true, remoteDone: false, messageBytes: 5, close: false });
    expect(clientReceive(1, b, serverEnd(false))).toEqual({ headersReceived: true, remoteDone: true, messageBytes: undefined, close: true });
  });

  it("an END carrying the headers ends a stream that had none", () => {
    expect(clientReceive(1, fresh, serverEnd(true))).toMatchObject({ remoteDone: true, close: true });
  });

  it("CANCEL ends the stream at any point", () => {
    expect(clientReceive(1, fresh, cancel)).toMatchObject({ remoteDone: true, close: true });
  });

  it("refuses a second HEADERS, a MESSAGE before HEADERS, END headers after HEADERS, a half-close", () => {
    const withHeaders = { headersReceived: true, remoteDone: false };
    expect(() => clientReceive(3, withHeaders, headers)).toThrow(new ProtocolError("second HEADERS on stream 3"));
    expect(() => clientReceive(3, fresh, msg())).toThrow(new ProtocolError("MESSAGE before HEADERS on stream 3"));
    expect(() => clientReceive(3, withHeaders, serverEnd(true))).toThrow(new ProtocolError("END with headers after HEADERS on stream 3"));
    expect(() => clientReceive(3, withHeaders, halfClose)).toThrow(new ProtocolError("client END sent by a server"));
  });
});

describe("server receive transitions", () => {
  it("CALL_START opens with its message charged and its half-close taken", () => {
    const start = { kind: FrameKind.CALL_START, streamId: 1, endStream: true, message } as never;
    expect(serverStart(start)).toEqual({ headersReceived: false, remoteDone: true, messageBytes: 5, close: false });
  });

  it("MESSAGE is charged and may half-close; END half-closes; neither ends the stream", () => {
    const a = serverReceive(1, fresh, msg());
    expect(a).toEqual({ headersReceived: false, remoteDone: false, messageBytes: 5, close: false });
    expect(serverReceive(1, a, msg(true))).toMatchObject({ remoteDone: true, close: false });
    expect(serverReceive(1, a, halfClose)).toEqual({ headersReceived: false, remoteDone: true, messageBytes: undefined, close: false });
  });

  it("CANCEL ends the stream", () => {
    expect(serverReceive(1, fresh, cancel)).toMatchObject({ remoteDone: true, close: true });
  });

  it("refuses frames after the half-close and response frames", () => {
    const done = { headersReceived: false, remoteDone: true };
    expect(() => serverReceive(4, done, msg())).toThrow(new ProtocolError("MESSAGE after half-close on stream 4"));
    expect(() => serverReceive(4, done, halfClose)).toThrow(new ProtocolError("second half-close on stream 4"));
    expect(() => serverReceive(4, fresh, headers)).toThrow(new ProtocolError(`unexpected frame kind ${FrameKind.HEADERS} from a client`));
  });
});
