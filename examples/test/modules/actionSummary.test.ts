import { ActionSummaryModule, InvalidModuleOptionError, stripEvent, DEFAULT_MAX_EVENTS, type EventHistory } from '../../src/modules';
import type { LOEvent } from '@learning-observer/reducers';

const event = (i: number): LOEvent => ({
  client: {
    event: 'click',
    i,
    source: 'org.ets.da',
    version: '1.0',
    auth: { safe_user_id: 's1', token: 'secret' },
    metadata: { ts: 1000 + i },
    nested: { auth: 'kept', source: 'kept' },
  },
  metadata: { auth: { safe_user_id: 's1' } },
  server: { time: 1 + i },
});

describe('action summary', () => {
  it('strips metadata, source, version and auth (top level of client only)', () => {
    expect(JSON.parse(JSON.stringify(stripEvent(event(1))))).toEqual({ event: 'click', i: 1, nested: { auth: 'kept', source: 'kept' } });
  });

  it('keeps the newest maxEvents events, oldest first', () => {
    const module = new ActionSummaryModule({ maxEvents: 3 });
    let state: EventHistory = { events: [] };
    for (let i = 0; i < 5; i += 1) {
      const [internal, external] = module.studentEventHistory(event(i), state) as [EventHistory, EventHistory];
      expect(external).toEqual(internal);
      state = internal;
    }
    expect(state.events.map((e) => e.i)).toEqual([2, 3, 4]);
    expect(module.studentEventHistory(event(5), { events: state.events.concat(state.events) })[0]).toEqual({
      events: [3, 4, 5].map((i) => stripEvent(event(i))),
    });
  });

  it('defaults to 1000 events and rejects a cap below 1', () => {
    expect(new ActionSummaryModule().maxEvents).toBe(DEFAULT_MAX_EVENTS);
    expect(DEFAULT_MAX_EVENTS).toBe(1000);
    expect(() => new ActionSummaryModule({ maxEvents: 0 })).toThrow(InvalidModuleOptionError);
    expect(() => new ActionSummaryModule({ maxEvents: 2.5 })).toThrow(/maxEvents=2.5/);
  });
});
