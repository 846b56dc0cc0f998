import { runKVStoreConformance } from '@learning-observer/kvs-test-suite';
import { InMemoryKVS } from '../src/backends/InMemoryKVS';
import { StoreClosedError } from '../src/errors';

runKVStoreConformance('InMemoryKVS (stub)', async () => new InMemoryKVS(), { sibling: async () => new InMemoryKVS() });

describe('InMemoryKVS specifics', () => {
  it('has type stub', () => {
    expect(new InMemoryKVS().type).toBe('stub');
  });

  it('keeps every instance (every named stub backend) separate', async () => {
    const first = new InMemoryKVS();
    const second = new InMemoryKVS();
    await first.set('hi', 5);
    await second.set('hi', 7);
    expect(await first.get('hi')).toBe(5);
    expect(await second.get('hi')).toBe(7);
    await first.clear();
    expect(await first.keys()).toEqual([]);
    expect(await second.keys()).toEqual(['hi']);
  });

  it('serialises transactions per key but runs different keys concurrently', async () => {
    const store = new InMemoryKVS();
    const order: string[] = [];
    let releaseA!: () => void;
    const gateA = new Promise<void>((resolve) => (releaseA = resolve));
    const a1 = store.transaction('a', async () => {
      order.push('a1 start');
      await gateA;
      order.push('a1 end');
      return { value: 1 };
    });
    const a2 = store.transaction('a', async (v) => {
      order.push(`a2 sees ${v}`);
      return { value: 2 };
    });
    const b = store.transaction('b', async () => {
      order.push('b runs');
      return { value: 'b' };
    });
    await b;
    expect(order).toEqual(['a1 start', 'b runs']);
    releaseA();
    await Promise.all([a1, a2]);
    expect(order).toEqual(['a1 start', 'b runs', 'a1 end', 'a2 sees 1']);
    expect(await store.get('a')).toBe(2);
  });

  it('keeps the queue going after a failing transaction', async () => {
    const store = new InMemoryKVS();
    const failing = store.update('k', () => {
      throw new Error('boom');
    });
    const next = store.update('k', (v) => ((v as number | undefined) ?? 0) + 1);
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe(1);
  });

  it('throws StoreClosedError after close', async () => {
    const store = new InMemoryKVS();
    await store.set('k', 1);
    await store.close();
    await expect(store.get('k')).rejects.toThrow(StoreClosedError);
    await expect(store.keys()).rejects.toThrow(StoreClosedError);
    await expect(store.update('k', () => 2)).rejects.toThrow(StoreClosedError);
  });
});
