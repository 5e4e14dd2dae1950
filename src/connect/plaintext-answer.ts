// What a TLS server tells a client that speaks plaintext to it: one GOAWAY frame
// (Unavailable) in the channel framing, written unencrypted before the close
// (src/channel/tls-failure.ts), so a connect-rdma client without `tls` fails its handshake
// with this message instead of a bare "closed before answering".
import { StatusCode } from "../frame/constants.js";
import { encodeGoAway } from "../frame/frames.js";
import { STREAM_FRAME_HEADER_BYTES } from "../channel/frame-headers.js";

/** The reason a plaintext client of a TLS server reads. */
export const PLAINTEXT_REFUSAL = "the server speaks TLS: set tls on the transport";

/** The GOAWAY frame (length header included) carrying {@link PLAINTEXT_REFUSAL}. */
export function plaintextAnswer(): Uint8Array {
  const goAway = encodeGoAway(0, StatusCode.UNAVAILABLE, PLAINTEXT_REFUSAL);
  const bytes = new Uint8Array(STREAM_FRAME_HEADER_BYTES + goAway.byteLength);
  new DataView(bytes.buffer).setUint32(0, goAway.byteLength, true);
  goAway.write(bytes.subarray(STREAM_FRAME_HEADER_BYTES));
  return bytes;
}
