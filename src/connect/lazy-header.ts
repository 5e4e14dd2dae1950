// The request `header` of a unary call, made only on demand. connect-es gives every call
// a `Headers` object; most calls have no request headers and no interceptor that reads
// them, and a `Headers` (undici's) costs more to make than the rest of the call's small
// objects. Here `req.header` is an accessor that makes the Headers on first read (and
// takes a write), and the send path asks requestHeaderOf(): undefined while nobody made
// one, i.e. an empty metadata block on the wire.

const kHeaders = Symbol("connect-rdma.requestHeader");

type Lazy = { [kHeaders]: Headers | undefined };

// One shared descriptor, as call-signal.ts does for `signal` (see there why): an own,
// enumerable property, so `{ ...req }` copies the (then made) Headers.
const headerProperty: PropertyDescriptor = {
  get(this: Lazy): Headers {
    return (this[kHeaders] ??= new Headers());
  },
  set(this: Lazy, value: Headers) {
    this[kHeaders] = value;
  },
  enumerable: true,
  configurable: true,
};

// Where the made Headers is kept: not enumerable, so a spread of the request does not copy
// it (the copy gets a plain `header` property instead).
const slotProperty: PropertyDescriptor = { value: undefined, writable: true, enumerable: false, configurable: true };

/**
 * Gives `target` its `header`: `new Headers(init)` at once when `init` is given, else an
 * accessor that makes an empty Headers on first read. Returns `target`.
 */
export function withRequestHeader<T extends object>(target: T, init: HeadersInit | undefined): T & { header: Headers } {
  if (init !== undefined) return Object.assign(target, { header: new Headers(init) });
  Object.defineProperty(target, kHeaders, slotProperty);
  return Object.defineProperty(target, "header", headerProperty) as T & { header: Headers };
}

/** The request's Headers, or undefined when it has the lazy accessor and nobody made them. */
export function requestHeaderOf(req: { header: Headers }): Headers | undefined {
  // Only an untouched accessor leaves kHeaders undefined (a read or a write sets it); a
  // spread copy has no kHeaders and a plain `header`.
  if (kHeaders in req && (req as unknown as Lazy)[kHeaders] === undefined) return undefined;
  return req.header;
}
