// The transport suite on the in-memory engine (memory://), plus memory-only tests.
import { transportSuite } from "./transport-suite.js";

let n = 0;
transportSuite("memory", {
  listenUrl: () => `memory://suite-${process.pid}-${++n}`,
});
