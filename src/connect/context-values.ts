// Per-call context values (connect-es's ContextValues) with the methods on a prototype:
// connect-es's createContextValues() builds an object with three new closures for every
// call, on both sides. Same behaviour: a value lives on the object under its key's
// symbol; get() falls back to the key's default value.

import type { ContextKey, ContextValues } from "@connectrpc/connect";

type Slots = Record<symbol, unknown>;

class CallValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    return key.id in this ? ((this as unknown as Slots)[key.id] as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Slots)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Slots)[key.id];
    return this;
  }
}

/** New, empty context values for one call. */
export function createCallValues(): ContextValues {
  return new CallValues();
}
