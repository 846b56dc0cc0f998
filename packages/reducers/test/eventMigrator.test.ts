import { from, lastValueFrom, toArray } from 'rxjs';
import { InMemoryKVS } from '@learning-observer/kvs';
import {
  EventField,
  EventMigrationError,
  KeyField,
  ReducerError,
  ReducerPipeline,
  ReducerRegistry,
  RegistrationError,
  defineReducer,
  kvsPipeline,
  reducerModule,
  withClientFields,
  type EventMigrator,
  type LOEvent,
  type ReducerOutput,
} from '@learning-observer/reducers';
import { SlowStore, asStore, ev } from './helpers';

const SRC = 'org.test.migrate';
const docScope = [KeyField.STUDENT, new EventField('doc_id')];

let migratorCalls = 0;
/** Copies client.object.id into client.doc_id when there is no doc_id (copy-on-write). */
const objectIdToDocId: EventMigrator = (event) => {
  migratorCalls++;
  const object = event.client.object as { id?: unknown } | undefined;
  if (event.client.doc_id !== undefined || typeof object?.id !== 'string') return event;
  return withClientFields(event, { doc_id: object.id });
};

const seenEvents: LOEvent[] = [];

@reducerModule('test.migrated', { context: SRC, migrate: objectIdToDocId })
class Migrated {
  @kvsPipeline({ scope: docScope, nullState: { count: 0 } })
  count(event: LOEvent, state: { count: number }): ReducerOutput {
    seenEvents.push(event);
    const next = { count: state.count + 1 };
    return [next, next];
  }

  @kvsPipeline({ scope: docScope, nullState: [] })
  docs(event: LOEvent, state: string[]): ReducerOutput {
    return [[...state, event.client.doc_id as string], false];
  }
}

/** Same source, no migrator: must not see the other module's migration. */
@reducerModule('test.plain', { context: SRC })
class Plain {
  @kvsPipeline({ scope: docScope, nullState: { count: 0 } })
  count(event: LOEvent, state: { count: number }): ReducerOutput {
    seenEvents.push(event);
    return [{ count: state.count + 1 }, false];
  }
}

const objectOnly = (student: string, id: string): LOEvent => ev(SRC, student, { object: { id, url: `https://example.com/${id}` } });

beforeEach(() => {
  migratorCalls = 0;
  seenEvents.length = 0;
});

describe('event migrators (@reducerModule(name, { context, migrate }))', () => {
  const ways: [string, (p: ReducerPipeline, events: LOEvent[]) => Promise<unknown>][] = [
    ['process()', (p, events) => Promise.all(events.map((e) => p.process(e)))],
    ['run()', (p, events) => lastValueFrom(p.run(events).pipe(toArray()))],
    ['operator()', (p, events) => lastValueFrom(from(events).pipe(p.operator(), toArray()))],
  ];
  test.each(ways)('applied before keying, in %s (per-event, batched, in-memory and slow store)', async (_name, drive) => {
    for (const batchSize of [undefined, 2]) {
      for (const store of [new InMemoryKVS(), asStore(new SlowStore(3))]) {
        migratorCalls = 0;
        const pipeline = new ReducerPipeline({ modules: [Migrated, Plain], store, batchSize });
        const events = [objectOnly('s1', 'D1'), objectOnly('s1', 'D1'), ev(SRC, 's1', { doc_id: 'D2' }), objectOnly('s2', 'D1')];
        const before = JSON.parse(JSON.stringify(events));
        const clients = events.map((e) => e.client);
        await drive(pipeline, events);
        await pipeline.idle();

        expect(await store.dump()).toEqual({
          'External,test.migrated.count,EventField.doc_id:D1,STUDENT:s1': { count: 2 },
          'External,test.migrated.count,EventField.doc_id:D1,STUDENT:s2': { count: 1 },
          'External,test.migrated.count,EventField.doc_id:D2,STUDENT:s1': { count: 1 },
          'Internal,test.migrated.count,EventField.doc_id:D1,STUDENT:s1': { count: 2 },
          'Internal,test.migrated.count,EventField.doc_id:D1,STUDENT:s2': { count: 1 },
          'Internal,test.migrated.count,EventField.doc_id:D2,STUDENT:s1': { count: 1 },
          // the reducer sees the migrated event
          'Internal,test.migrated.docs,EventField.doc_id:D1,STUDENT:s1': ['D1', 'D1'],
          'Internal,test.migrated.docs,EventField.doc_id:D1,STUDENT:s2': ['D1'],
          'Internal,test.migrated.docs,EventField.doc_id:D2,STUDENT:s1': ['D2'],
          // the module without a migrator only keys the event that has a doc_id
          'Internal,test.plain.count,EventField.doc_id:D2,STUDENT:s1': { count: 1 },
        });
        // once per event for the module (not per reducer)
        expect(migratorCalls).toBe(4);
        // the caller's events are untouched
        expect(events).toEqual(before);
        events.forEach((e, i) => expect(e.client).toBe(clients[i]));
      }
    }
  });

  test('copy-on-write: an unchanged event, and every event of a module without a migrator, reach the reducer as the same object', async () => {
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [Migrated, Plain], store });
    const withDocId = ev(SRC, 's', { doc_id: 'D9' });
    await pipeline.process(withDocId);
    expect(seenEvents).toHaveLength(2);
    expect(seenEvents[0]).toBe(withDocId); // the migrator returned it unchanged
    expect(seenEvents[1]).toBe(withDocId); // Plain has no migrator

    seenEvents.length = 0;
    const linked = objectOnly('s', 'D8');
    await pipeline.process(linked);
    expect(seenEvents).toHaveLength(1); // Plain skipped it: no doc_id for it
    expect(seenEvents[0]).not.toBe(linked);
    expect(seenEvents[0].client.doc_id).toBe('D8');
    expect(linked.client.doc_id).toBeUndefined();
  });

  test('resume positions and error reports get the event as given, not the migrated copy', async () => {
    const failing = defineReducer(
      { module: 'test.mfail', qualname: 'r', context: SRC, nullState: 0, scope: docScope, migrate: objectIdToDocId },
      () => {
        throw new Error('reducer failed');
      },
    );
    const events = [objectOnly('s', 'D1'), objectOnly('s', 'D1')];
    const positions = new Map<LOEvent, number>(events.map((e, i) => [e, i]));
    const asked: LOEvent[] = [];
    const pipeline = new ReducerPipeline({
      modules: [failing, Migrated],
      store: new InMemoryKVS(),
      sequence: (e) => {
        asked.push(e);
        return positions.get(e) ?? -1;
      },
    });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    const results = (await Promise.all(events.map((e) => pipeline.process(e)))).flat();
    expect(results.filter((r) => r.reducerId === 'test.migrated.count').map((r) => r.external)).toEqual([{ count: 1 }, { count: 2 }]);
    expect(asked.length).toBeGreaterThanOrEqual(4);
    expect(asked.every((e) => events.includes(e))).toBe(true);
    expect(errors.map((e) => [e.internalKey, e.event])).toEqual([
      ['Internal,test.mfail.r,EventField.doc_id:D1,STUDENT:s', events[0]],
      ['Internal,test.mfail.r,EventField.doc_id:D1,STUDENT:s', events[1]],
    ]);
  });

  test('a migrator that throws or returns a non-event fails the event for its module only (EventMigrationError)', async () => {
    const throwing = defineReducer(
      {
        module: 'test.throwing',
        qualname: 'r',
        context: SRC,
        nullState: 0,
        migrate: () => {
          throw new RangeError('cannot migrate');
        },
      },
      (_e, n: number) => [n + 1, n + 1],
    );
    const empty = defineReducer(
      { module: 'test.empty', qualname: 'r', context: SRC, nullState: 0, migrate: (() => undefined) as unknown as EventMigrator },
      (_e, n: number) => [n + 1, n + 1],
    );
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [throwing, empty, Migrated], store });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    const event = objectOnly('s', 'D1');
    const results = await pipeline.process(event);
    expect(results.map((r) => r.reducerId)).toEqual(['test.migrated.count', 'test.migrated.docs']);
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof EventMigrationError && e instanceof ReducerError)).toBe(true);
    expect(errors[0].event).toBe(event);
    expect(errors[0].internalKey).toBe('');
    expect((errors[0] as EventMigrationError).module).toBe('test.throwing');
    expect(errors[0].message).toBe(
      'The event migrator of module test.throwing failed, so reducer test.throwing.r did not run for this event: RangeError: cannot migrate. ' +
        'Nothing was written for it; fix the migrator (it must return the event itself or a changed copy, and not throw) and replay the event.',
    );
    expect(errors[1].message).toContain(
      'reducer test.empty.r did not run for this event: ReducerFrameworkError: the migrator returned undefined, not an event; return the event itself or a changed copy',
    );
    const stop = new ReducerPipeline({ modules: [throwing], store: new InMemoryKVS(), onError: 'stop' });
    await expect(stop.process(event)).rejects.toBeInstanceOf(EventMigrationError);
    await expect(lastValueFrom(from([event]).pipe(stop.operator()))).rejects.toBeInstanceOf(EventMigrationError);
    const batched = new ReducerPipeline({ modules: [throwing], store: new InMemoryKVS(), onError: 'stop', batchSize: 4 });
    await expect(lastValueFrom(batched.run([event]))).rejects.toBeInstanceOf(EventMigrationError);
  });

  test('a subclass inherits the migrator unless it declares its own @reducerModule', () => {
    class Inherits extends Migrated {}
    @reducerModule('test.own', { context: SRC })
    class Own extends Migrated {}
    expect(new ReducerRegistry().register(Inherits).map((d) => d.migrate)).toEqual([objectIdToDocId, objectIdToDocId]);
    expect(new ReducerRegistry().register(Own).map((d) => d.migrate)).toEqual([undefined, undefined]);
    expect(new ReducerRegistry().register(Plain)[0].migrate).toBeUndefined();
  });

  test('the registry refuses a migrator that is not a function', () => {
    @reducerModule('test.bad', { context: SRC, migrate: 'doc_id' as unknown as EventMigrator })
    class Bad {
      @kvsPipeline({ nullState: 0 })
      r(): ReducerOutput {
        return [0, 0];
      }
      @kvsPipeline({ nullState: 0 })
      s(): ReducerOutput {
        return [0, 0];
      }
    }
    let error: unknown;
    try {
      new ReducerRegistry().register(Bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RegistrationError);
    // reported once for the class, not once per reducer
    expect((error as RegistrationError).problems).toEqual([
      'Bad (@reducerModule): migrate must be a function (event) => event that returns the event itself or a changed copy ' +
        '(e.g. withClientFields(event, { doc_id })); got "doc_id".',
    ]);
  });

  test('withClientFields copies the event and its client, and leaves the original alone', () => {
    const event = ev(SRC, 's', { object: { id: 'D1' } });
    const copy = withClientFields(event, { doc_id: 'D1' });
    expect(copy).toEqual({ ...event, client: { ...event.client, doc_id: 'D1' } });
    expect(event.client.doc_id).toBeUndefined();
    expect(copy.metadata).toBe(event.metadata);
  });
});
