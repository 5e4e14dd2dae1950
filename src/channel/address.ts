// Channel URLs: tcp://host:port, unix:///absolute/path, memory://name, rdma://ip:port,
// shm:///absolute/rendezvous/path.
// Parsing and formatting live here so every engine agrees on them.

export type ChannelAddress =
  | { scheme: "tcp"; host: string; port: number }
  | { scheme: "unix"; path: string }
  | { scheme: "shm"; path: string }
  | { scheme: "memory"; name: string }
  | { scheme: "rdma"; host: string; port: number };

/** Parses a channel URL; throws TypeError naming what is wrong. */
export function parseChannelUrl(url: string): ChannelAddress {
  if (typeof url !== "string") throw new TypeError(`channel URL must be a string, got ${typeof url}`);
  const match = /^([a-z]+):\/\/(.*)$/.exec(url);
  if (!match) throw new TypeError(`invalid channel URL "${url}": expected tcp://host:port, unix:///path, shm:///path, rdma://ip:port or memory://name`);
  const [, scheme, rest] = match as unknown as [string, string, string];
  switch (scheme) {
    case "unix":
    case "shm":
      if (!rest.startsWith("/")) throw new TypeError(`invalid ${scheme} URL "${url}": the path must be absolute (${scheme}:///tmp/x.sock)`);
      return { scheme, path: rest };
    case "memory":
      if (!rest) throw new TypeError(`invalid memory URL "${url}": a name is required`);
      return { scheme, name: rest };
    case "tcp":
    case "rdma": {
      const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^:/\[\]]+):(\d{1,5})\/?$/.exec(rest);
      if (!hostPort) throw new TypeError(`invalid ${scheme} URL "${url}": expected ${scheme}://host:port`);
      const port = Number(hostPort[2]);
      if (port > 65535) throw new RangeError(`invalid ${scheme} URL "${url}": port ${port} is out of range`);
      const host = hostPort[1]!.replace(/^\[(.*)\]$/, "$1");
      return { scheme, host, port };
    }
    default:
      throw new TypeError(`unsupported channel URL scheme "${scheme}:" in "${url}"`);
  }
}

/** Formats an address back into its URL. */
export function formatChannelUrl(address: ChannelAddress): string {
  switch (address.scheme) {
    case "unix":
    case "shm":
      return `${address.scheme}://${address.path}`;
    case "memory":
      return `memory://${address.name}`;
    default: {
      const host = address.host.includes(":") ? `[${address.host}]` : address.host;
      return `${address.scheme}://${host}:${address.port}`;
    }
  }
}
