// The RDMA checks of `connect-rdma doctor`: the RDMA devices and ports capabilities()
// found (with what fixes a missing library, a DOWN port or a port without GIDs), and
// whether soft-RoCE could run on this kernel, with the test harness's mode.
import { existsSync, readdirSync } from "node:fs";
import { networkInterfaces } from "node:os";

import type { Capabilities } from "../index.js";
import { readText } from "./doctor-check.js";
import type { Check } from "./doctor-check.js";
import { columns } from "./format.js";
import { chooseMode } from "./softroce-mode.js";

function netdevsWithIPv4(): string[] {
  const out: string[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (addresses?.some((a) => a.family === "IPv4" && !a.internal)) out.push(name);
  }
  return out;
}

export function checkRdma(caps: Capabilities): Check {
  const { rdma } = caps;
  const details: string[] = [];
  const rows: string[][] = [["device", "port", "state", "link layer", "MTU", "GIDs"]];
  for (const device of rdma.devices) {
    if (device.error) rows.push([device.name, "-", `error: ${device.error}`, "", "", ""]);
    for (const port of device.ports) {
      rows.push([
        device.name,
        String(port.port),
        port.state,
        port.linkLayer,
        port.activeMtu > 0 ? String(port.activeMtu) : "?",
        port.gidCount !== undefined ? `${port.gidCount}/${port.gidTableLength}` : `?/${port.gidTableLength}`,
      ]);
    }
  }
  if (rows.length > 1) details.push(...columns(rows, "").split("\n"));
  const hints: string[] = [];
  const reason = (rdma.reason ?? "").replace(/^RDMA unavailable: /, "");
  if (/libibverbs|librdmacm|dlopen|cannot open shared object/i.test(reason)) {
    hints.push("sudo apt-get install -y libibverbs1 librdmacm1 ibverbs-providers rdma-core");
  }
  for (const device of rdma.devices) {
    for (const port of device.ports) {
      if (port.state === "DOWN") hints.push(`${device.name}/${port.port} is DOWN: bring its network interface up (ip link set <netdev> up) or check the cable/switch`);
      if (port.state === "ACTIVE" && port.linkLayer === "Ethernet" && port.gidCount === 0) {
        hints.push(`${device.name}/${port.port} has no GIDs: give its network interface an IP address (RoCE addresses peers by IP)`);
      }
    }
  }
  return {
    id: "rdma",
    status: rdma.available ? "ok" : "warn",
    summary: rdma.available
      ? `available: ${rdma.devices.map((d) => d.name).join(", ")}`
      : `unavailable: ${reason || "unknown reason"}`,
    details,
    hints,
  };
}

/** Whether this kernel could run soft-RoCE here, and how to set it up. */
export function checkSoftRoce(caps: Capabilities, kernel: string): Check {
  const loaded = existsSync("/sys/module/rdma_rxe");
  const rxe = caps.rdma.devices.filter((d) => d.name.startsWith("rxe")).map((d) => d.name);
  let moduleFile = false;
  try {
    moduleFile = readdirSync(`/lib/modules/${kernel}/kernel/drivers/infiniband/sw/rxe`).some((f) => f.startsWith("rdma_rxe"));
  } catch {
    moduleFile = false;
  }
  const builtIn = /rdma_rxe/.test(readText(`/lib/modules/${kernel}/modules.builtin`) ?? "");
  const details: string[] = [];
  const hints: string[] = [];
  let summary: string;
  if (rxe.length > 0) {
    summary = `soft-RoCE devices: ${rxe.join(", ")}`;
  } else if (loaded || moduleFile || builtIn) {
    summary = `rdma_rxe is ${loaded ? "loaded" : builtIn ? "built in" : "available as a module"}, no rxe device configured`;
    const netdev = netdevsWithIPv4()[0] ?? "eth0";
    if (!loaded && !builtIn) hints.push("sudo modprobe rdma_rxe");
    hints.push(`sudo rdma link add rxe0 type rxe netdev ${netdev}   (iproute2's rdma tool; then: connect-rdma doctor)`);
  } else {
    summary = "this kernel has no rdma_rxe module (no soft-RoCE here)";
    details.push(`not found: /sys/module/rdma_rxe, /lib/modules/${kernel}/kernel/drivers/infiniband/sw/rxe/`);
  }
  // The test harness (connect-rdma softroce): which mode it would use here, and why.
  const { chosen, host, guest } = chooseMode("auto");
  if (chosen.available) {
    details.push(`connect-rdma softroce run would use ${chosen.mode} mode${chosen.mode === "guest" ? " (a QEMU guest: host mode needs " + host.missing.join("; ") + ")" : ""}`);
    hints.push("two linked soft-RoCE devices for a test: npx connect-rdma softroce run -- <command> (docs/SOFTROCE.md)");
  } else {
    details.push(`connect-rdma softroce cannot run here: ${[...host.missing, ...(guest?.missing ?? [])].join("; ")}`);
  }
  return { id: "softroce", status: "info", summary, details, hints };
}
