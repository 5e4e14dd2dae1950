// The transport suite on the io_uring engine over Unix sockets (skipped with the reason
// printed where io_uring is unavailable; a failure under CI=true).
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { transportSuite } from "./transport-suite.js";

transportSuite("uring-unix", { engine: "uring", listenUrl: () => listenUrl("unix"), unavailable: uringUnavailable });
