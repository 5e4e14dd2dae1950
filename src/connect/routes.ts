// Collects the implementations a `routes` function registers. The user's function gets a
// ConnectRouter that forwards every registration to a real `createConnectRouter()` (so
// validation and `router.handlers` behave as with connect-node), and also records the
// implementation spec (public `createServiceImplSpec` / `createMethodImplSpec`) under its
// request path, so that the server can call implementations directly. A method missing
// from an implementation gets connect-es's own Unimplemented stub from the spec.
// Also the two helpers both sides share: method paths (computed once per method) and
// interceptor chaining.

import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createConnectRouter, createMethodImplSpec, createServiceImplSpec } from "@connectrpc/connect";
import type { ConnectRouter, ConnectRouterOptions, Interceptor, MethodImpl, ServiceImpl } from "@connectrpc/connect";
import type { MethodImplSpec } from "@connectrpc/connect";
import { createMethodUrl } from "@connectrpc/connect/protocol";
import type { UniversalHandlerOptions } from "@connectrpc/connect/protocol";

/** One registered method. */
export interface Route {
  spec: MethodImplSpec;
  /** Options given with this registration (they override the server's). */
  options: Partial<UniversalHandlerOptions> | undefined;
}

class RouteCollector implements ConnectRouter {
  readonly #router: ConnectRouter;
  readonly routes = new Map<string, Route>();

  constructor(options: ConnectRouterOptions | undefined) {
    this.#router = createConnectRouter(options);
  }

  get handlers(): ConnectRouter["handlers"] {
    return this.#router.handlers;
  }

  service<T extends DescService>(service: T, implementation: Partial<ServiceImpl<T>>, options?: Partial<UniversalHandlerOptions>): this {
    this.#router.service(service, implementation, options);
    const spec = createServiceImplSpec(service, implementation);
    for (const m of Object.values(spec.methods)) this.routes.set(methodPath(m.method), { spec: m, options });
    return this;
  }

  rpc<M extends DescMethod>(method: M, impl: MethodImpl<M>, options?: Partial<UniversalHandlerOptions>): this {
    this.#router.rpc(method, impl, options);
    this.routes.set(methodPath(method), { spec: createMethodImplSpec(method, impl), options });
    return this;
  }
}

/** Runs `routes` against a collecting router; returns the routes by request path. */
export function collectRoutes(
  routes: (router: ConnectRouter) => void,
  options?: ConnectRouterOptions,
): Map<string, Route> {
  const collector = new RouteCollector(options);
  routes(collector);
  return collector.routes;
}

const paths = new WeakMap<DescMethod, string>();

/** The request path of a method, `/package.Service/Method` (createMethodUrl("/", m), computed once). */
export function methodPath(method: DescMethod): string {
  let path = paths.get(method);
  if (path === undefined) {
    path = createMethodUrl("/", method);
    paths.set(method, path);
  }
  return path;
}

/**
 * Wraps `next` in the interceptors, the first one outermost (it runs first): connect-es's own
 * applyInterceptors (not exported by it), typed for one request/response pair.
 */
export function applyInterceptors<Req, Res>(next: (req: Req) => Res, interceptors: readonly Interceptor[] | undefined): (req: Req) => Res {
  if (interceptors === undefined) return next;
  let fn = next;
  for (let i = interceptors.length - 1; i >= 0; i--) fn = (interceptors[i] as Interceptor)(fn as never) as unknown as (req: Req) => Res;
  return fn;
}
