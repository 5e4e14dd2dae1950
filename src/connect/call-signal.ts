// The cancellation state of one call, with its AbortSignal made only on demand.
// connect-es gives every call AbortControllers (deadline, linked signals, completion);
// in Node 20 creating an AbortSignal costs ~5 µs, a listener ~1 µs and abort() without
// a reason ~10 µs (it builds a DOMException): more than the rest of a unary call. Here a
// call is aborted by its deadline, a linked signal (the caller's), or explicitly
// (cancel, shutdown, completion). This library reacts through one plain callback
// (`onAbort`); an AbortSignal exists only once user code (an interceptor, a handler)
// reads `signal`, and then it is the one connect-es would have given: aborted at the
// same moment, with the same reason ("the operation timed out" DeadlineExceeded, the
// linked signal's reason, or the DOMException of a plain abort() on completion).

import { Code, ConnectError } from "@connectrpc/connect";
import { getAbortSignalReason } from "@connectrpc/connect/protocol";

/** The deadline's reason, as connect-es's createDeadlineSignal words it. */
function timedOut(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}

const kCall = Symbol("connect-rdma.callSignal");

// One shared accessor: an object literal with its own `get signal()` would be built by
// the runtime in dictionary mode (~40x slower to create, slower to read), and a getter on
// a prototype would be lost by `{ ...req }`. This stays a fast, own, enumerable property.
const signalProperty: PropertyDescriptor = {
  get(this: { [kCall]: CallSignal }): AbortSignal {
    return this[kCall].signal;
  },
  enumerable: true,
  configurable: true,
};

/**
 * Gives `target` the property `signal` that reads `call.signal` (an AbortSignal made on
 * first read; a spread of the object copies the signal). Returns `target`.
 */
export function withSignal<T extends object>(target: T, call: CallSignal): T & { readonly signal: AbortSignal } {
  (target as T & { [kCall]: CallSignal })[kCall] = call;
  return Object.defineProperty(target, "signal", signalProperty) as T & { readonly signal: AbortSignal };
}

/** A call's abort state; see the file comment. */
export class CallSignal {
  #aborted = false;
  #reason: unknown = undefined;
  #controller: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #linked: { signal: AbortSignal; listener: () => void }[] | undefined;
  /**
   * Called once when the call is aborted by its deadline, a linked signal, or abort();
   * not on finish(). One subscriber at a time: whoever drives the call right now.
   */
  onAbort: ((reason: unknown) => void) | undefined = undefined;

  /**
   * `linked`: a signal whose abort aborts the call (the caller's); `timeoutMs`: the
   * deadline (≤ 0: already passed). A linked signal that is already aborted wins over
   * the deadline, as in connect-es's createLinkedAbortController(signal, deadline).
   */
  constructor(linked: AbortSignal | undefined, timeoutMs: number | undefined) {
    if (linked !== undefined) this.follow(linked);
    if (timeoutMs === undefined || this.#aborted) return;
    if (timeoutMs <= 0) this.abort(timedOut());
    // Node timers overflow above 2^31-1 ms (they fire at once): a longer deadline is
    // further away than any process lives, so it needs no timer at all.
    else if (timeoutMs <= 0x7fff_ffff) this.#timer = setTimeout(() => this.abort(timedOut()), timeoutMs);
  }

  /** True once aborted or finished. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it was aborted (undefined before, and after finish()). */
  get reason(): unknown {
    return this.#reason;
  }

  /** The call's AbortSignal, created on first use (already aborted if the call is). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Also abort when `signal` aborts (a signal an interceptor put in place of ours). The
   * call's own signal, or a signal already followed, is ignored. Returns this.
   */
  follow(signal: AbortSignal): this {
    if (signal === this.#controller?.signal || this.#linked?.some((l) => l.signal === signal)) return this;
    if (this.#aborted) return this;
    if (signal.aborted) {
      this.abort(getAbortSignalReason(signal));
      return this;
    }
    const listener = (): void => void this.abort(getAbortSignalReason(signal));
    signal.addEventListener("abort", listener, { once: true });
    (this.#linked ??= []).push({ signal, listener });
    return this;
  }

  /** Aborts the call with `reason` and tells `onAbort`. False if it already was. */
  abort(reason: unknown): boolean {
    if (!this.#end(reason)) return false;
    this.onAbort?.(reason);
    return true;
  }

  /** The call completed: the signal aborts without a reason (as connect-es's done()); `onAbort` is not told. */
  finish(): void {
    this.#end(undefined);
  }

  /**
   * The error a failed call rejects with, as connect-es's runUnaryCall computes it: the
   * abort reason if the call was aborted first, else `error`; the call is aborted with it.
   */
  fail(error: unknown): ConnectError {
    const e = this.#aborted ? ConnectError.from(this.#reason, Code.Canceled) : ConnectError.from(error);
    this.#end(e);
    return e;
  }

  #end(reason: unknown): boolean {
    if (this.#aborted) return false;
    this.#aborted = true;
    this.#reason = reason;
    clearTimeout(this.#timer);
    if (this.#linked !== undefined) {
      for (const { signal, listener } of this.#linked) signal.removeEventListener("abort", listener);
      this.#linked = undefined;
    }
    // abort(undefined) gives the DOMException AbortError, like AbortController#abort().
    this.#controller?.abort(reason);
    return true;
  }
}
