// The `unix` server option: who may connect to a server's unix:// (and shm://) listeners,
// and the socket file's permissions. Admission is decided once per connection, at accept,
// from the credentials the kernel recorded when the peer connected (SO_PEERCRED): a peer
// whose uid is not in `allowUids` and whose gid is not in `allowGids` is closed before
// any frame of it is read — on shm:// by the engine itself, before the rendezvous sends
// the shared region (admittedIds), so a refused peer never holds its memfd.

import type { ChannelPeer } from "../channel/channel-peer.js";

/** The `unix` option of createServer (docs/SECURITY.md, "Unix sockets"). */
export interface UnixServerOptions {
  /** Peers running as one of these uids are admitted. */
  allowUids?: readonly number[];
  /** Peers whose primary gid is one of these are admitted. */
  allowGids?: readonly number[];
  /** Permissions of the socket file, from its creation on. Default 0o600: only the owner may connect. */
  mode?: number;
}

/** True when the peer of a unix:// or shm:// connection is admitted. */
export type Admission = (peer: ChannelPeer | undefined) => boolean;

/** The admission check of `options`, or undefined when every peer is admitted (neither list given). */
export function unixAdmission(options: UnixServerOptions | undefined): Admission | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`createServer: option "unix" must be an object { allowUids?, allowGids?, mode? }, got ${String(options)}`);
  }
  const uids = idSet("allowUids", options.allowUids);
  const gids = idSet("allowGids", options.allowGids);
  if (uids === undefined && gids === undefined) return undefined;
  return (peer) => {
    // No credentials (a transport that cannot tell them): not admitted.
    const credentials = peer?.credentials;
    return credentials !== undefined && (uids?.has(credentials.uid) === true || gids?.has(credentials.gid) === true);
  };
}

/** The uids and gids `options` admits, or undefined when every peer is admitted (checked by unixAdmission first). */
export function admittedIds(options: UnixServerOptions | undefined): { uids?: readonly number[]; gids?: readonly number[] } | undefined {
  if (options?.allowUids === undefined && options?.allowGids === undefined) return undefined;
  return { ...(options.allowUids !== undefined ? { uids: options.allowUids } : {}), ...(options.allowGids !== undefined ? { gids: options.allowGids } : {}) };
}

function idSet(name: string, ids: readonly number[] | undefined): Set<number> | undefined {
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0 && id <= 0xffff_ffff)) {
    throw new TypeError(`createServer: unix.${name} must be an array of uids/gids (non-negative integers), got ${JSON.stringify(ids)}`);
  }
  return new Set(ids);
}
