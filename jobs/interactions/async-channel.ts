/**
 * A bounded single-consumer channel: `push` waits while `capacity` items are queued, so a fast
 * producer is held back by a slow consumer (backpressure) instead of filling memory.
 */
export class AsyncChannel<T> implements AsyncIterable<T> {
  readonly #capacity: number;
  readonly #items: T[] = [];
  #closed = false;
  #wakeConsumer: (() => void) | null = null;
  #wakeProducers: (() => void)[] = [];

  /** A channel holding at most `capacity` items (default 2). */
  constructor(capacity = 2) {
    this.#capacity = capacity;
  }

  async push(item: T): Promise<void> {
    while (this.#items.length >= this.#capacity) await new Promise<void>((r) => this.#wakeProducers.push(r));
    if (this.#closed) throw new Error('push on a closed channel');
    this.#items.push(item);
    this.#wakeConsumer?.();
  }

  close(): void {
    this.#closed = true;
    this.#wakeConsumer?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift() as T;
        this.#wakeProducers.shift()?.();
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((r) => (this.#wakeConsumer = r));
      this.#wakeConsumer = null;
    }
  }
}
