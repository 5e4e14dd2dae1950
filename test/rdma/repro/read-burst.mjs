// Repro (RDMA engine, issue 4): many one-sided READ transfers at once — 64 connections,
// each echoing frames just above the receive slot both ways — and rxe0 counts RNR NAKs
// (send_rnr_err), then a connection fails with ECONNRESET. No receive queue ran empty:
// each connection posted its READ chunks (64 KiB = 64 packets at MTU 1024, four per
// transfer, up to the send queue's depth) with no engine-wide bound, so hundreds of
// READ response packets left at once, the veth's receive backlog (netdev_max_backlog,
// 1000) dropped some, and rxe's responder answers a READ response it failed to transmit
// with an RNR NAK (rxe_resp.c read_reply: xmit error -> RESPST_ERR_RNR), which the
// reading side takes as a fatal sequence error in the middle of a READ response.
//   softroce/run-in-guest.sh --timeout 200 -- node test/rdma/repro/read-burst.mjs
// Expected: every frame echoed, send_rnr_err and send_err unchanged.
import { readFileSync, readdirSync } from "node:fs";
import { RdmaEngine } from "../../../dist/channel/rdma-engine.js";
import { CLIENT_ADDRESS, SERVER_URL, echo } from "./echo.mjs";

function counters() {
  const out = {};
  for (const dev of readdirSync("/sys/class/infiniband")) {
    for (const name of ["send_rnr_err", "rcvd_rnr_err", "send_err", "completer_retry_err"]) {
      out[`${dev}/${name}`] = Number(readFileSync(`/sys/class/infiniband/${dev}/ports/1/hw_counters/${name}`, "utf8"));
    }
  }
  // Second column of /proc/net/softnet_stat: packets dropped because the backlog was full.
  out.softnet_dropped = readFileSync("/proc/net/softnet_stat", "utf8")
    .trim()
    .split("\n")
    .reduce((sum, line) => sum + parseInt(line.split(/\s+/)[1], 16), 0);
  return out;
}

const server = new RdmaEngine({});
const client = new RdmaEngine({ localAddress: CLIENT_ADDRESS });
const listener = await server.listen(SERVER_URL, echo);
const before = counters();
const connections = 64;
const perConnection = 4;
const size = client.region.slotSize + 70_000;
let echoed = 0;
const closes = [];
const channels = await Promise.all(
  Array.from({ length: connections }, () =>
    client.connect(listener.url, { onFrame: () => echoed++, onClose: (e) => e && closes.push(e.code ?? e.message) }),
  ),
);
for (const ch of channels) for (let i = 0; i < perConnection; i++) ch.send(ch.allocate(size));
const deadline = Date.now() + 60_000;
while (echoed < connections * perConnection && closes.length === 0 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
const after = counters();
const moved = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]).filter(([, v]) => v !== 0));
console.log(`echoed ${echoed}/${connections * perConnection}, closes ${JSON.stringify(closes.slice(0, 3))}`);
console.log(`counters moved: ${JSON.stringify(moved)}`);
await client.close(0);
await server.close(0);
const bad = echoed < connections * perConnection || (moved["rxe0/send_rnr_err"] ?? 0) + (moved["rxe1/send_rnr_err"] ?? 0) > 0;
console.log(bad ? "BUG REPRODUCED" : "ok");
process.exit(bad ? 1 : 0);
