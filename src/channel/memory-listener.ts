// A listener of the memory engine: a name in the process-wide registry its engine keeps.
import type { AcceptHandler, Listener } from "./channel.js";

export const MEMORY_SCHEME = "memory://";

/** What a MemoryListener needs from its engine. */
export interface MemoryListenerOwner {
  /** The listener closed: out of the registry and the engine's set. */
  forgetListener(listener: MemoryListener<MemoryListenerOwner>): void;
}

/** A listening name; its engine's connect() hands accepted channels to `onAccept`. */
export class MemoryListener<E extends MemoryListenerOwner> implements Listener {
  readonly url: string;
  readonly name: string;
  readonly engine: E;
  readonly onAccept: AcceptHandler;

  constructor(name: string, engine: E, onAccept: AcceptHandler) {
    this.name = name;
    this.url = MEMORY_SCHEME + name;
    this.engine = engine;
    this.onAccept = onAccept;
  }

  close(): Promise<void> {
    this.engine.forgetListener(this);
    return Promise.resolve();
  }
}
