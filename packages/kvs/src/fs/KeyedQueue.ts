/**
 * Runs tasks one at a time per key, in the order they were queued; tasks for different keys run
 * concurrently. A failing task does not block the ones queued after it. Idle keys hold no memory.
 *
 * `run` takes a task that returns a Promise. `enter`/`leave` are the same queue without a Promise
 * per task, for a caller that settles its work from callbacks (the Redis store's transactions).
 *
 * @example
 * const queue = new KeyedQueue();
 * await Promise.all([queue.run('k', taskA), queue.run('k', taskB)]); // taskB starts after taskA settles
 */
export class KeyedQueue {
  /** Keys held by an entry: `null` when no other waits for the key, else the waiting starts, in order. */
  private readonly waiting = new Map<string, (() => void)[] | null>();

  /** Queues `task` behind the tasks already queued for `key`; resolves or rejects with its result. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.enter(key, () => {
        let result: Promise<T>;
        try {
          result = task();
        } catch (err) {
          result = Promise.reject(err);
        }
        result.then(
          (value) => {
            resolve(value);
            this.leave(key);
          },
          (err) => {
            reject(err);
            this.leave(key);
          },
        );
      }),
    );
  }

  /**
   * Calls `start` now when `key` is free, else once every entry queued before it has left. The
   * entry holds the key until `leave(key)`, which its holder must call exactly once.
   *
   * @example
   * queue.enter('k', () => work((err) => { report(err); queue.leave('k'); }));
   */
  enter(key: string, start: () => void): void {
    const waiting = this.waiting.get(key);
    if (waiting === undefined) {
      this.waiting.set(key, null);
      start();
    } else if (waiting === null) {
      this.waiting.set(key, [start]);
    } else {
      waiting.push(start);
    }
  }

  /**
   * Takes `key` when it is free (the caller then holds it until `leave(key)`) and returns true;
   * returns false, queuing nothing, when it is held: `enter` without a start function to allocate.
   *
   * @example
   * if (queue.tryEnter('k')) work(); else queue.enter('k', work);
   */
  tryEnter(key: string): boolean {
    if (this.waiting.has(key)) return false;
    this.waiting.set(key, null);
    return true;
  }

  /** Ends the entry holding `key`: starts the next one waiting for it, or frees the key. */
  leave(key: string): void {
    const start = this.waiting.get(key)?.shift();
    if (start === undefined) this.waiting.delete(key);
    else start();
  }

  /** Whether `key` has a queued or running task. */
  has(key: string): boolean {
    return this.waiting.has(key);
  }

  /** Number of keys with queued or running tasks. */
  get size(): number {
    return this.waiting.size;
  }
}
