// The channel suite on the io_uring engine over TCP (skipped with the reason printed
// where io_uring is unavailable; a failure under CI=true).
import { channelSuite } from "./channel-suite.js";
import { uringSuite } from "./engines.js";

channelSuite(uringSuite("tcp"));
