// The channel suite on the node:net engine over Unix sockets.
import { channelSuite } from "./channel-suite.js";
import { netSuite } from "./engines.js";

channelSuite(netSuite("unix"));
