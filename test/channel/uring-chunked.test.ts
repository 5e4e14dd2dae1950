// The channel suite on the io_uring engine with every event handed to JS on its own
// (dispatchChunk: 1): each frame's callback runs, and the sends it queued are submitted,
// in the middle of reaping a completion. Proves that mid-batch dispatch (the default
// chunk is 16) keeps frames whole and in order, survives closes from inside a chunk and
// loses nothing.
import { channelSuite } from "./channel-suite.js";
import { uringSuite } from "./engines.js";
import { UringEngine } from "../../src/channel/uring-engine.js";

const suite = uringSuite("tcp");
channelSuite({
  ...suite,
  name: "uring-tcp, dispatchChunk 1",
  makeEngine: (options) => new UringEngine({ ...options, dispatchChunk: 1 }),
});
