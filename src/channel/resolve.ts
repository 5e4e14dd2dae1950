// Host names to numeric IPs for the native engines (io_uring tcp://, RDMA rdma://), which
// take addresses the kernel and rdma_cm accept as they are.
import { lookup } from "node:dns/promises";

/** Resolves a host name to a numeric IP; an IPv4 or IPv6 literal is returned as it is. */
export async function resolveHost(host: string): Promise<string> {
  if (/^[\d.]+$/.test(host) || host.includes(":")) return host;
  return (await lookup(host)).address;
}
