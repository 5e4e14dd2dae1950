// The unary request's lazy `header` (src/connect/lazy-header.ts): no Headers is made
// until someone reads or writes it, and whatever an interceptor does with it — read and
// append, assign, spread into a new request with other headers — is what gets sent.
import { describe, expect, it } from "vitest";
import { requestHeaderOf, withRequestHeader } from "../../src/connect/lazy-header.js";

const lazy = () => withRequestHeader({ url: "u" }, undefined);

describe("lazy request header", () => {
  it("untouched: nothing made, an empty block is sent", () => {
    expect(requestHeaderOf(lazy())).toBeUndefined();
  });

  it("read and appended to: that Headers is sent", () => {
    const req = lazy();
    req.header.append("x-a", "1");
    expect(requestHeaderOf(req)?.get("x-a")).toBe("1");
    expect(req.header).toBe(req.header);
  });

  it("assigned: the new Headers is sent", () => {
    const req = lazy();
    req.header = new Headers({ "x-b": "2" });
    expect(requestHeaderOf(req)?.get("x-b")).toBe("2");
  });

  it("spread into a new request, with and without new headers", () => {
    const req = lazy();
    const copy = { ...req };
    copy.header.set("x-c", "3");
    expect(requestHeaderOf(copy)?.get("x-c")).toBe("3");
    const replaced = { ...lazy(), header: new Headers({ "x-d": "4" }) };
    expect(requestHeaderOf(replaced)?.get("x-d")).toBe("4");
  });

  it("given headers are made at once, as connect-es does", () => {
    const req = withRequestHeader({}, { "x-e": "5" });
    expect(requestHeaderOf(req)?.get("x-e")).toBe("5");
    expect(requestHeaderOf(withRequestHeader({}, []))).toBeInstanceOf(Headers);
  });

  it("enumerable, so connect-es code that lists the request's keys sees it", () => {
    expect(Object.keys(lazy())).toContain("header");
  });
});
