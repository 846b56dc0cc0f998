/**
 * Runs async tasks one at a time per key, in the order they were queued; tasks for different
 * keys run concurrently. A failing task does not block the ones queued after it. Idle keys hold
 * no memory.
 *
 * @example
 * const queue = new KeyedQueue();
 * await Promise.all([queue.run('k', taskA), queue.run('k', taskB)]); // taskB starts after taskA settles
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Queues `task` behind the tasks already queued for `key`; resolves or rejects with its result. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous ? previous.then(task) : task();
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether `key` has a queued or running task. */
  has(key: string): boolean {
    return this.tails.has(key);
  }

  /** Number of keys with queued or running tasks. */
  get size(): number {
    return this.tails.size;
  }
}
