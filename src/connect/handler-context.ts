// The server side's HandlerContext and how implementations are invoked: connect-es's
// createHandlerContext, invokeUnaryImplementation and transformInvokeImplementation,
// with these differences: without interceptors, an implementation is called directly
// (no async-generator layers between a streaming handler and the wire); the
// context's `signal` is a getter over the call's CallSignal, so a unary call whose
// handler and interceptors never read it costs no AbortController (call-signal.ts says
// why that matters); response headers and trailers nobody set go on the wire as empty
// blocks (a unary call without interceptors goes straight to the implementation). Everything
// else is theirs: fields, timeoutMs(), how interceptors see the request and response,
// normalization of the output, and the copy of an interceptor's response headers back
// into the context.

import { create } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, MessageShape } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext, Interceptor, MethodImplSpec, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { transformInvokeImplementation } from "@connectrpc/connect/protocol";
import { withSignal } from "./call-signal.js";
import type { CallSignal } from "./call-signal.js";
import { createCallValues } from "./context-values.js";
import { applyInterceptors } from "./routes.js";

const noTimeout = (): undefined => undefined;

/** What a server call knows when its CALL_START arrives. */
export interface HandlerContextInit {
  method: DescMethod;
  url: string;
  timeoutMs: number | undefined;
  requestHeader: Headers;
  signal: CallSignal;
  /** The call's context values (the server's `contextValues` option); undefined: new, empty ones. */
  values?: ContextValues | undefined;
}

/**
 * A context's own data properties, in connect-es's order. A class, not an object
 * literal: V8 may start allocating a literal's objects directly in the old generation
 * ("allocation-site pretenuring") once many of them outlived a young-generation GC, and
 * it did for the context literal under load. A context born old keeps everything it
 * references (request headers, values, the call's signal) alive until the next full GC,
 * so every call's objects were copied by the young GCs and promoted — about 1 KB per
 * call, and young-GC pauses at ~15 % of the CPU (docs/TUNING.md, "Garbage collection").
 * Objects made by a constructor are not pretenured that way.
 */
class CallContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName = "connect-rdma";
  readonly requestMethod = "POST";
  readonly url: string;
  readonly timeoutMs: () => number | undefined;
  readonly requestHeader: Headers;
  readonly values: ContextValues;
  readonly responseHeader = new Headers();
  readonly responseTrailer = new Headers();

  constructor(init: HandlerContextInit, timeoutMs: () => number | undefined) {
    this.method = init.method;
    this.service = init.method.parent;
    this.url = init.url;
    this.timeoutMs = timeoutMs;
    this.requestHeader = init.requestHeader;
    this.values = init.values ?? createCallValues();
  }
}

/**
 * A HandlerContext as connect-es builds it, its signal made on first read. Its
 * responseHeader / responseTrailer are plain Headers made with it: a Headers costs
 * ~0.13 µs, a shared accessor defined on each context ~0.35 µs (Object.defineProperty
 * is a runtime call).
 */
export function createCallContext(init: HandlerContextInit): HandlerContext {
  const { signal, timeoutMs } = init;
  let remaining: () => number | undefined = noTimeout;
  if (timeoutMs !== undefined) {
    const deadline = Date.now() + timeoutMs;
    remaining = () => deadline - Date.now();
  }
  return withSignal(new CallContext(init, remaining), signal);
}

/** A context's response headers, undefined when nothing was set (an empty block on the wire). */
export function responseHeaderOf(context: HandlerContext): Headers | undefined {
  return nonEmpty(context.responseHeader);
}
/** As responseHeaderOf, for the trailers. */
export function responseTrailerOf(context: HandlerContext): Headers | undefined {
  return nonEmpty(context.responseTrailer);
}

function nonEmpty(headers: Headers): Headers | undefined {
  for (const _ of headers) return headers;
  return undefined;
}

/** The context an interceptor's replacement request implies (connect-es's mergeRequest). */
function mergeRequest(context: HandlerContext, req: UnaryRequest): HandlerContext {
  return { ...context, service: req.service, requestHeader: req.header, signal: req.signal, values: req.contextValues };
}

function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  to.forEach((_, key) => to.delete(key));
  from.forEach((value, key) => to.set(key, value));
}

/**
 * Runs a unary implementation behind the interceptors and returns its normalized
 * output, as connect-es's invokeUnaryImplementation. `signal` is the call's (the one
 * behind context.signal). While the request object is the one made here, the handler
 * gets `context` itself (no merged copy, no signal read).
 */
export async function invokeUnary<I extends DescMessage, O extends DescMessage>(
  spec: MethodImplSpec<I, O> & { kind: "unary" },
  context: HandlerContext,
  signal: CallSignal,
  input: MessageShape<I>,
  interceptors: readonly Interceptor[],
): Promise<MessageShape<O>> {
  const { method } = spec;
  // No interceptors: the handler gets the context itself, and its output is the response.
  if (interceptors.length === 0) return create(method.output, await spec.impl(input, context));
  const request: UnaryRequest<I, O> = withSignal(
    {
      stream: false as const,
      message: input,
      method,
      requestMethod: context.requestMethod,
      url: context.url,
      header: context.requestHeader,
      service: method.parent,
      contextValues: context.values,
    },
    signal,
  );
  const next = applyInterceptors<UnaryRequest<I, O>, Promise<UnaryResponse<I, O>>>(
    async (req) => ({
      message: create(method.output, await spec.impl(req.message, req === request ? context : mergeRequest(context, req))),
      stream: false,
      method,
      service: method.parent,
      header: context.responseHeader,
      trailer: context.responseTrailer,
    }),
    interceptors.length > 0 ? interceptors : undefined,
  );
  const { message, header, trailer } = await next(request);
  copyHeaders(header, context.responseHeader);
  copyHeaders(trailer, context.responseTrailer);
  return message;
}

/**
 * Starts a streaming implementation (server, client or bidi streaming); resolves an
 * iterator of its output messages, not normalized yet (the caller applies `create`, as
 * connect-es's normalizeIterable does). Behind interceptors it is connect-es's
 * transformInvokeImplementation. Without, the handler gets `context` itself and its
 * own iterator is returned: connect-es stacks three async-generator layers on it, each
 * a promise and several microtasks per message. `single` takes the one request of a
 * server-streaming call (Unimplemented when there is none or more than one).
 */
export async function invokeStreaming<I extends DescMessage, O extends DescMessage>(
  spec: MethodImplSpec<I, O> & { kind: "server_streaming" | "client_streaming" | "bidi_streaming" },
  context: HandlerContext,
  input: AsyncIterable<MessageShape<I>>,
  single: () => MessageShape<I> | Promise<MessageShape<I>>,
  interceptors: readonly Interceptor[],
): Promise<AsyncIterator<unknown>> {
  if (interceptors.length > 0) {
    return transformInvokeImplementation(spec, context, interceptors as Interceptor[])(input)[Symbol.asyncIterator]();
  }
  switch (spec.kind) {
    case "server_streaming":
      return spec.impl(await single(), context)[Symbol.asyncIterator]();
    case "bidi_streaming":
      return spec.impl(input, context)[Symbol.asyncIterator]();
    case "client_streaming": {
      let answered = false;
      return {
        next: async () => {
          if (answered) return { done: true, value: undefined };
          answered = true;
          return { done: false, value: await spec.impl(input, context) };
        },
      };
    }
  }
}
