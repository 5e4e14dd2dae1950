// What the RDMA repro scripts share: the guest's addresses (softroce/run-in-guest.sh)
// and an echo server's per-channel handler (each frame sent back in a fresh lease).

/** Where a repro's server listens (rxe0's address, port 0). */
export const SERVER_URL = `rdma://${process.env.SOFTROCE_IP0 ?? "10.77.0.1"}:0`;
/** The client's source address (rxe1), or rdma_cm picks rxe0 and talks to itself. */
export const CLIENT_ADDRESS = process.env.SOFTROCE_IP1 ?? "10.77.0.2";

/** An accept handler that echoes every frame on its channel. */
export const echo = (ch) => ({
  onFrame(f) {
    const l = ch.allocate(f.byteLength);
    l.bytes.set(f);
    ch.send(l);
  },
  onClose() {},
});
