// The HELLO negotiation as pure functions (src/frame/handshake.ts): what each side
// announces, the server's choice of version or its refusal, the client's check.
import { describe, expect, it } from "vitest";
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, QUEUED_FRAMES_BASE, QUEUED_FRAMES_PER_STREAM } from "../../src/frame/constants.js";
import type { Hello } from "../../src/frame/frames.js";
import { answerHello, checkServerHello, clientHello, maxQueuedFrames } from "../../src/frame/handshake.js";
import { ProtocolError } from "../../src/frame/protocol-error.js";

const limits = { maxMessageBytes: 111, maxHeaderBytes: 222, maxConcurrentStreams: 3, initialWindowBytes: 444 };
const peer: Hello = { version: 1, minVersion: 1, maxMessageBytes: 1, maxHeaderBytes: 2, maxConcurrentStreams: 5, initialWindowBytes: 4 };

describe("handshake", () => {
  it("a client announces every version it speaks and its own limits", () => {
    expect(clientHello(limits)).toEqual({ version: PROTOCOL_VERSION, minVersion: MIN_PROTOCOL_VERSION, ...limits });
  });

  it("a server answers with the highest common version, named alone, and its own limits", () => {
    const answer = answerHello(limits, { ...peer, version: PROTOCOL_VERSION + 5, minVersion: 1 });
    expect(answer).toEqual({ accept: true, version: PROTOCOL_VERSION, hello: { version: PROTOCOL_VERSION, minVersion: PROTOCOL_VERSION, ...limits } });
  });

  it("a server refuses a client whose versions are all newer, naming both ranges", () => {
    const answer = answerHello(limits, { ...peer, version: PROTOCOL_VERSION + 9, minVersion: PROTOCOL_VERSION + 4 });
    expect(answer.accept).toBe(false);
    if (answer.accept) return;
    expect(answer.message).toBe(
      `unsupported protocol version: peer speaks ${PROTOCOL_VERSION + 4}..${PROTOCOL_VERSION + 9}, this server ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`,
    );
  });

  it("a server refuses a client whose versions are all older", () => {
    expect(answerHello(limits, { ...peer, version: MIN_PROTOCOL_VERSION - 1, minVersion: 0 }).accept).toBe(false);
  });

  it("a client accepts only a version it speaks", () => {
    expect(() => checkServerHello({ ...peer, version: PROTOCOL_VERSION })).not.toThrow();
    expect(() => checkServerHello({ ...peer, version: PROTOCOL_VERSION + 1 })).toThrow(ProtocolError);
    expect(() => checkServerHello({ ...peer, version: MIN_PROTOCOL_VERSION - 1 })).toThrow(/unsupported protocol version/);
  });

  it("the send queue holds a few frames per stream plus a base", () => {
    expect(maxQueuedFrames(10)).toBe(10 * QUEUED_FRAMES_PER_STREAM + QUEUED_FRAMES_BASE);
    expect(maxQueuedFrames(0)).toBe(QUEUED_FRAMES_BASE);
  });
});
