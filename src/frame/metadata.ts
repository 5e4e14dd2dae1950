// Metadata blocks (request headers, response headers, trailers) on the wire:
//   u16 count, then per entry: u16 name length, name (lower-case HTTP token),
//   u32 value length, value (UTF-8).
// Values are carried verbatim: `-bin` values travel as the base64 text that Headers
// holds (exactly what HTTP would carry), any Unicode survives as UTF-8. Names and
// values are validated on receipt; anything Headers would reject is a malformed frame.

import type { WireReader, WireWriter } from "./wire.js";
import { utf8Length } from "./wire.js";

/** Metadata measured for writing. */
export interface PreparedMetadata {
  /** name, value, value byte length, repeated. */
  readonly entries: readonly (string | number)[];
  readonly count: number;
  /** Encoded size of the whole block. */
  readonly byteLength: number;
}

const EMPTY: PreparedMetadata = { entries: [], count: 0, byteLength: 2 };
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

interface Measuring {
  entries: (string | number)[] | undefined;
  count: number;
  byteLength: number;
}

// One shared forEach callback (state in `this`): no closure per block.
function measureEntry(this: Measuring, value: string, name: string): void {
  const valueLength = utf8Length(value);
  (this.entries ??= []).push(name, value, valueLength);
  this.byteLength += 2 + name.length + 4 + valueLength;
  this.count++;
}

/** Measures a metadata block (undefined or empty Headers → 2 bytes). */
export function prepareMetadata(headers: Headers | undefined): PreparedMetadata {
  if (headers === undefined) return EMPTY;
  const m: Measuring = { entries: undefined, count: 0, byteLength: 2 };
  headers.forEach(measureEntry, m);
  if (m.count > 0xffff) throw new RangeError(`too many metadata entries (${m.count})`);
  return m.entries === undefined ? EMPTY : { entries: m.entries, count: m.count, byteLength: m.byteLength };
}

/** Writes a prepared block. */
export function writeMetadata(w: WireWriter, md: PreparedMetadata): void {
  w.u16(md.count);
  const e = md.entries;
  for (let i = 0; i < e.length; i += 3) {
    const name = e[i] as string;
    w.u16(name.length);
    w.string(name, name.length);
    w.u32(e[i + 2] as number);
    w.string(e[i + 1] as string, e[i + 2] as number);
  }
}

/** Smallest entry: u16 name length, a 1-byte name, u32 value length, empty value. */
const MIN_ENTRY_BYTES = 7;

/**
 * Reads a block into a new Headers; `field` names it in errors; larger than `limit` is
 * malformed. The size is checked before each name and value is decoded (and the count
 * up front), so a block costs at most `limit` bytes of work, whatever it announces.
 */
export function readMetadata(r: WireReader, field: string, limit = Infinity): Headers {
  const start = r.remaining;
  const block = `${field} block`;
  const count = r.u16(`${field} count`);
  r.within(count * MIN_ENTRY_BYTES, start, limit, block);
  const headers = new Headers();
  for (let i = 0; i < count; i++) {
    const name = r.string(r.within(r.u16(`${field} name length`), start, limit, block), `${field} name`);
    if (!TOKEN.test(name)) r.fail(`${field} name ${JSON.stringify(name)} is not a lower-case HTTP token`);
    const value = r.string(r.within(r.u32(`${field} value length`), start, limit, block), `${field} value`);
    try {
      headers.append(name, value);
    } catch {
      r.fail(`${field} value of ${JSON.stringify(name)} is not a valid header value`);
    }
  }
  const size = start - r.remaining;
  if (size > limit) r.fail(`${field} block of ${size} bytes exceeds the announced limit of ${limit}`);
  return headers;
}
