'use strict';
/** Turns the collected figures into table rows (kept in the JSON) and renders them for stdout. */

const fmtRate = (n) => (n === undefined ? '-' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M/s` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k/s` : `${n.toFixed(0)}/s`);
const fmtX = (n) => (n === undefined || !Number.isFinite(n) ? '-' : `${n >= 10 ? n.toFixed(1) : n.toFixed(2)}x`);
const fmtMB = (n) => (n === undefined ? '-' : `${n.toFixed(0)} MB`);
const fmtMs = (n) => (n === undefined ? '-' : `${n.toFixed(2)} ms`);

function rows(r) {
  const out = [];
  const plain = r.references.plainLoop && r.references.plainLoop.eventsPerSec;
  const rb = r.references.redisBenchmark || {};
  const set = rb.set;
  const add = (section, what, value, shown, extra = {}) => out.push({ section, what, value, shown, ...extra });
  const pass = (ok) => (ok === undefined ? '' : ok ? 'PASS' : 'MISS');

  if (plain) add('reference', 'plain Map loop doing the counter work', plain, fmtRate(plain), { peakRssMB: r.references.plainLoop.peakRssMB });
  // With the Redis rows run, the median of three runs of it (start, before and after the rows).
  const runs = (k) => (rb.samples ? { ratioShown: `median of ${rb.samples.map((x) => fmtRate(x[k])).join(', ')} (start, before, after the Redis rows)` } : {});
  if (set) add('reference', 'redis-benchmark SET -P 16 -c 1', set, fmtRate(set), runs('set'));
  if (rb.get) add('reference', 'redis-benchmark GET -P 16 -c 1', rb.get, fmtRate(rb.get), runs('get'));
  for (const [name, what] of [
    ['ioredis32', 'ioredis SET, one command per event, 32 in flight'],
    ['ioredis256', 'ioredis SET, one command per event, 256 in flight'],
  ]) {
    const m = r.references[name];
    if (m && !m.error) add('reference', what, m.eventsPerSec, fmtRate(m.eventsPerSec), { ratioShown: set ? `${fmtX(m.eventsPerSec / set)} redis SET (the client's ceiling for per-event writes)` : '' });
  }

  const rate = (section, what, m, opts = {}) => {
    if (!m) return;
    if (m.error) {
      add(section, what, undefined, 'failed', { ratioShown: m.error.slice(0, 160), target: opts.targetShown || '', result: opts.target !== undefined ? 'MISS' : '' });
      return;
    }
    const v = m.eventsPerSec;
    const row = { peakRssMB: m.peakRssMB, events: m.events };
    let ratio;
    let ratioShown = '';
    if (opts.vs === 'plain' && m.plainEventsPerSec) {
      // The plain loop ran over the same chunks in the same process (see bench/README.md).
      ratio = v / m.plainEventsPerSec;
      ratioShown = `${fmtX(ratio)} plain loop (${fmtRate(m.plainEventsPerSec)} in the same process)`;
    } else if (opts.vs === 'plain' && plain) {
      ratio = v / plain;
      ratioShown = `${fmtX(ratio)} plain loop`;
    } else if (opts.vs === 'set' && set) {
      ratio = v / set;
      ratioShown = `${fmtX(ratio)} redis SET`;
    }
    // "x original" at this machine's speed: the original's figure scaled by the plain loop here
    // (same process when measured there) over the plain loop where the original was measured.
    const plainHere = m.plainEventsPerSec || plain;
    const scaledOriginal = opts.original && plainHere && r.original.plainLoop ? opts.original * (plainHere / r.original.plainLoop) : undefined;
    if (opts.original) {
      ratioShown += `${ratioShown ? '; ' : ''}${fmtX(v / opts.original)} original`;
      if (scaledOriginal && opts.targetOn === 'original') ratioShown += ` (${fmtX(v / scaledOriginal)} at this machine's speed: plain loop ${fmtRate(plainHere)} here, ${fmtRate(r.original.plainLoop)} where the original ran)`;
    }
    if (opts.detail) ratioShown += `${ratioShown ? '; ' : ''}${opts.detail}`;
    // A row measured as the median of several runs (run.js measure(..., 'median')) lists them.
    if (m.runs && m.runs.length > 1) ratioShown += `${ratioShown ? '; ' : ''}median of ${m.runs.map(fmtRate).join(', ')}`;
    let ok;
    if (opts.target !== undefined) {
      const vsOriginal = scaledOriginal ? v / scaledOriginal : v / opts.original;
      const measured = opts.targetOn === 'original' ? vsOriginal : opts.targetOn === 'absolute' ? v : ratio;
      ok = measured === undefined ? undefined : measured >= opts.target;
    }
    add(section, what, v, fmtRate(v), {
      ...row,
      ratio,
      ratioShown,
      target: opts.targetShown || '',
      result: pass(ok),
      errors: m.errors || 0,
    });
  };

  const fsRaw = r.references.fsWrites;
  if (fsRaw && !fsRaw.error) {
    const samples = fsRaw.samples && fsRaw.samples.length > 1 ? `; runs: ${fsRaw.samples.map((x) => `${fmtRate(x.filesPerSec).replace('/s', '')} (${x.at})`).join(', ')}` : '';
    add('reference', 'crash-safe file writes (temp, fsync, rename), 32 at a time', fsRaw.eventsPerSec, fmtRate(fsRaw.eventsPerSec), { ratioShown: `files/s: the disk's ceiling for per-key durable writes${samples}` });
  }

  const mem = r.memory;
  rate('memory', 'counter, exact', mem.counter, { vs: 'plain', original: r.original.counter, target: 0.5, targetShown: '>= 0.5x plain loop' });
  rate('memory', 'counter, batched', mem.counterBatched, { vs: 'plain', original: r.original.counter });
  rate('memory', 'all 8 WO reducers, exact', mem.wo, { vs: 'plain' });
  rate('memory', 'all 8 WO reducers, batched', mem.woBatched, { vs: 'plain' });
  for (const [name, m] of Object.entries(mem.perReducer || {})) {
    const original = r.original[name];
    const opts = original ? { original, target: 10, targetOn: 'original', targetShown: '>= 10x original' } : { vs: 'plain' };
    if (m && m.byHandEventsPerSec && m.plainEventsPerSec && original && r.original.plainLoop) {
      // The same work by hand with the store's two copies, at this machine's speed (see worker.js).
      const byHand = m.byHandEventsPerSec / (original * (m.plainEventsPerSec / r.original.plainLoop));
      opts.detail = `by hand with the store's two copies, no framework: ${fmtRate(m.byHandEventsPerSec)} = ${fmtX(byHand)} at this machine's speed; the pipeline is ${fmtX(m.eventsPerSec / m.byHandEventsPerSec)} of that`;
    }
    rate('memory', `${name}, exact`, m, opts);
  }

  const fsr = r.filesystem;
  rate('filesystem', `counter, exact (${fsr.counter ? fsr.counter.events : ''} events)`, fsr.counter, {});
  const fsBatch = r.sizes.fsBatchSize;
  // How much of the run waited for the disk: the files the batches wrote, the time inside
  // setMany (crash-safe writes), and the rate the writes alone allow (events / write time).
  const disk = r.references.fsWrites && !r.references.fsWrites.error ? r.references.fsWrites.eventsPerSec : undefined;
  const diskBound = (m) => {
    if (!m || m.error || !m.filesWritten || !m.batchesWritten || !m.writeSeconds) return '';
    const perBatch = Math.round(m.filesWritten / m.batchesWritten);
    const share = Math.round((100 * m.writeSeconds) / m.seconds);
    const filesPerSec = m.filesWritten / m.writeSeconds;
    // The reference runs right before and after the row (run.js bracketDiskReference) when they
    // ran; else the one at the start of the filesystem rows.
    const ref = m.diskReferenceFilesPerSec
      ? ` (reference right before and after the row: ${fmtRate(m.diskReferenceFilesPerSec).replace('/s', '')} files/s, so ${fmtX(filesPerSec / m.diskReferenceFilesPerSec)} of the disk)`
      : disk
        ? ` (reference ${fmtRate(disk).replace('/s', '')})`
        : '';
    return (
      `${perBatch} files per batch, written at ${fmtRate(filesPerSec).replace('/s', '')} files/s` +
      ref +
      ` in ${share}% of the time: the writes alone allow at most ${fmtRate(m.events / m.writeSeconds)}`
    );
  };
  rate('filesystem', `counter, batched (${fsBatch} events per batch)`, fsr.counterBatched, { target: 50_000, targetOn: 'absolute', targetShown: '>= 50k/s', detail: diskBound(fsr.counterBatched) });
  if (fsr.counterLargeBatch) {
    rate('filesystem', `counter, batched (${r.sizes.fsLargeBatchSize} events per batch)`, fsr.counterLargeBatch, { target: 50_000, targetOn: 'absolute', targetShown: '>= 50k/s', detail: diskBound(fsr.counterLargeBatch) });
  }
  rate('filesystem', `all WO reducers, exact (${fsr.wo ? fsr.wo.events : ''} events)`, fsr.wo, {});
  rate('filesystem', `all WO reducers, batched (${fsBatch} per batch)`, fsr.woBatched, {});

  const red = r.redis;
  rate('redis', 'counter, exact (default concurrency: the store prefers 256)', red.counter, { vs: 'set', original: r.original.counterRedis, target: 0.25, targetShown: '>= 0.25x redis SET' });
  rate('redis', 'counter, exact, concurrency 32 (the former default)', red.counter32, { vs: 'set', original: r.original.counterRedis });
  rate('redis', 'counter, batched', red.counterBatched, { vs: 'set', original: r.original.counterRedis, target: 1, targetShown: '>= 1x redis SET' });
  rate('redis', 'all WO reducers, exact', red.wo, { vs: 'set' });
  rate('redis', 'all WO reducers, batched', red.woBatched, { vs: 'set' });
  rate('redis', 'time_on_task, exact', red.time_on_task, { vs: 'set', original: r.original.time_on_taskRedis });

  for (const [backend, d] of Object.entries(r.dashboard)) {
    if (!d) continue;
    if (d.error) {
      add('dashboard', `${backend}: roster query`, undefined, 'failed', { ratioShown: d.error.slice(0, 160), result: backend === 'redis' ? 'MISS' : '' });
      continue;
    }
    const target = backend === 'redis' ? '< 5 ms median' : '';
    add('dashboard', `${backend}: roster query, ${d.students} students`, d.rosterQuery.medianMs, fmtMs(d.rosterQuery.medianMs), {
      ratioShown: `p95 ${fmtMs(d.rosterQuery.p95Ms)}; ${fmtRate(d.rosterQuery.perSec)} queries = ${fmtRate(d.rosterQuery.perSec * d.students)} states`,
      target,
      result: backend === 'redis' ? pass(d.rosterQuery.medianMs < 5) : '',
      peakRssMB: d.peakRssMB,
    });
    add('dashboard', `${backend}: readStates, ${d.students} students`, d.readStates.medianMs, fmtMs(d.readStates.medianMs), {
      ratioShown: `p95 ${fmtMs(d.readStates.p95Ms)}; ${fmtRate(d.readStates.perSec)} reads = ${fmtRate(d.readStates.perSec * d.students)} states`,
    });
  }

  if (r.scaling.length) {
    const first = r.scaling[0];
    const nsFirst = 1e9 / first.eventsPerSec;
    const bytesPerKey = (s) => (s.heapUsedMB * 1024 * 1024) / s.keys;
    for (const s of r.scaling) {
      const ns = 1e9 / s.eventsPerSec;
      add('scaling', `${s.events} events / ${s.students} students`, s.eventsPerSec, fmtRate(s.eventsPerSec), {
        ratioShown: `${ns.toFixed(0)} ns/event (${fmtX(ns / nsFirst)} first); ${s.keys} keys, heap ${fmtMB(s.heapUsedMB)} = ${bytesPerKey(s).toFixed(0)} B/key`,
        peakRssMB: s.peakRssMB,
      });
    }
    const last = r.scaling[r.scaling.length - 1];
    const costGrowth = 1e9 / last.eventsPerSec / nsFirst;
    const plainGrowth = first.plain && last.plain && first.plain.eventsPerSec && last.plain.eventsPerSec ? first.plain.eventsPerSec / last.plain.eventsPerSec : undefined;
    add('scaling', 'cost per event, largest / smallest', costGrowth, fmtX(costGrowth), {
      ratioShown: plainGrowth === undefined ? '' : `the plain Map loop at the same sizes: ${fmtX(plainGrowth)} (${fmtRate(first.plain.eventsPerSec)} -> ${fmtRate(last.plain.eventsPerSec)})`,
      target: '<= 1.5x (linear)',
      result: pass(costGrowth <= 1.5),
    });
    if (plainGrowth !== undefined) {
      // What the framework adds to the growth: a program without it, holding the same students'
      // keys, slows down by plainGrowth on this machine.
      const own = costGrowth / plainGrowth;
      add('scaling', "cost per event growth, pipeline's / plain loop's", own, fmtX(own), { target: '<= 1.5x (the framework scales)', result: pass(own <= 1.5) });
    }
    const heapPerKey = bytesPerKey(last) / bytesPerKey(r.scaling[Math.min(1, r.scaling.length - 1)]);
    add('scaling', 'heap per key, largest / second', heapPerKey, fmtX(heapPerKey), { target: '<= 1.5x (memory ~ keys)', result: pass(heapPerKey <= 1.5) });
  }
  const fixed = (r.scalingFixedKeys || []).filter((s) => s.eventsPerSec);
  if (fixed.length > 1) {
    const nsFirst = 1e9 / fixed[0].eventsPerSec;
    for (const s of fixed) {
      const ns = 1e9 / s.eventsPerSec;
      add('scaling', `fixed keys, counter + time on task: ${s.events} events / ${s.students} students`, s.eventsPerSec, fmtRate(s.eventsPerSec), {
        ratioShown: `${ns.toFixed(0)} ns/event (${fmtX(ns / nsFirst)} first); ${s.keys} keys, heap ${fmtMB(s.heapUsedMB)}`,
        peakRssMB: s.peakRssMB,
      });
    }
    const growth = 1e9 / fixed[fixed.length - 1].eventsPerSec / nsFirst;
    add('scaling', 'fixed keys: cost per event, largest / smallest', growth, fmtX(growth), { target: '<= 1.5x (linear in events)', result: pass(growth <= 1.5) });
    const heapGrowth = fixed[fixed.length - 1].heapUsedMB / fixed[0].heapUsedMB;
    add('scaling', 'fixed keys: heap, largest / smallest', heapGrowth, fmtX(heapGrowth), { target: '<= 1.5x (memory not ~ events)', result: pass(heapGrowth <= 1.5) });
  }

  const rp = r.replay;
  const replayRow = (m, what, extra = {}) => {
    if (!m) return;
    if (m.error) return add('replay', what, undefined, 'failed', { ratioShown: m.error.slice(0, 160), ...extra });
    add('replay', what, m.peakRssMB, fmtMB(m.peakRssMB), {
      ratioShown: `${fmtRate(m.eventsPerSec)}; ${m.keys} keys; live heap after GC ${fmtMB(m.heapUsedMB)}${extra.detail ? '; ' + extra.detail : ''}`,
      target: extra.target || '',
      result: extra.result || '',
      errors: m.errors,
    });
  };
  const big = rp.wo && rp.wo.events;
  const isFull = big >= 1_000_000;
  replayRow(rp.wo, `${rp.wo ? rp.wo.events : ''} events / ${rp.wo ? rp.wo.students : ''} students, all WO, heap capped 256 MB`, {
    target: isFull ? '< 300 MB peak RSS' : '',
    result: isFull && rp.wo && !rp.wo.error ? pass(rp.wo.peakRssMB < 300) : '',
  });
  replayRow(rp.woUncapped, 'same, default V8 heap (slack before major GCs)');
  if (rp.woSmall && rp.wo && !rp.wo.error && !rp.woSmall.error) {
    replayRow(rp.woSmall, `${rp.woSmall.events} events, all WO, heap capped`, {
      detail: `10x log: ${fmtX(rp.wo.peakRssMB / rp.woSmall.peakRssMB)} peak RSS (WO state grows with events: texts, switch lists)`,
    });
  }
  if (rp.bounded && rp.boundedSmall && !rp.bounded.error && !rp.boundedSmall.error) {
    replayRow(rp.boundedSmall, `${rp.boundedSmall.events} events, counter + time_on_task, heap capped`);
    const growth = rp.bounded.peakRssMB / rp.boundedSmall.peakRssMB;
    replayRow(rp.bounded, `${rp.bounded.events} events (10x log), counter + time_on_task, heap capped`, {
      detail: `${fmtX(growth)} the smaller log's peak`,
      target: '<= 1.2x peak RSS of the 10x smaller log',
      result: pass(growth <= 1.2),
    });
  }

  // Same log, same final state whatever the mode or backend.
  const digests = [];
  const note = (what, m) => m && m.digest && digests.push({ what, events: m.events, digest: m.digest, keys: m.keys });
  note('memory counter exact', mem.counter);
  note('memory counter batched', mem.counterBatched);
  note('filesystem counter batched', fsr.counterBatched);
  note('filesystem counter batched (large batches)', fsr.counterLargeBatch);
  note('redis counter exact', red.counter);
  note('redis counter batched', red.counterBatched);
  const counterDigests = digests.filter((d) => d.events === (mem.counter && mem.counter.events));
  if (counterDigests.length > 1) {
    const same = counterDigests.every((d) => d.digest === counterDigests[0].digest);
    add('consistency', 'counter: final state identical (exact/batched, all backends)', same, same ? 'identical' : 'DIFFERENT', {
      ratioShown: counterDigests.map((d) => `${d.what} ${d.digest}`).join('; '),
      result: pass(same),
    });
  }
  const woDigests = [];
  const noteWo = (what, m) => m && m.digest && m.events === (mem.wo && mem.wo.events) && woDigests.push({ what, digest: m.digest });
  noteWo('memory exact', mem.wo);
  noteWo('memory batched', mem.woBatched);
  noteWo('filesystem batched', fsr.woBatched);
  noteWo('redis exact', red.wo);
  noteWo('redis batched', red.woBatched);
  if (woDigests.length > 1) {
    const same = woDigests.every((d) => d.digest === woDigests[0].digest);
    add('consistency', 'WO reducers: final state identical (exact/batched, all backends)', same, same ? 'identical' : 'DIFFERENT', {
      ratioShown: woDigests.map((d) => `${d.what} ${d.digest}`).join('; '),
      result: pass(same),
    });
  }
  const errors = out.filter((row) => row.errors > 0);
  for (const row of errors) row.ratioShown = `${row.ratioShown || ''} (${row.errors} reducer errors!)`;
  return out;
}

function render(r) {
  const table = r.table;
  const head = ['section', 'measurement', 'figure', 'ratio / detail', 'target', 'result', 'peak RSS'];
  const body = table.map((row) => [row.section, row.what, row.shown, row.ratioShown || '', row.target || '', row.result || '', row.peakRssMB ? fmtMB(row.peakRssMB) : '']);
  const widths = head.map((h, i) => Math.min(i === 3 ? 80 : 60, Math.max(h.length, ...body.map((b) => String(b[i]).length))));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  const m = r.machine;
  let s = `\nLearning Observer reducers benchmark - node ${m.node}, ${m.cpus} x ${m.cpuModel}, ${m.totalMemMB} MB${m.quick ? ' (--quick: small sizes, figures are not comparable to targets)' : ''}\n\n`;
  s += line(head) + '\n' + line(widths.map((w) => '-'.repeat(w))) + '\n';
  let section;
  for (const b of body) {
    if (section !== undefined && b[0] !== section) s += '\n';
    section = b[0];
    s += line(b) + '\n';
  }
  const missed = table.filter((row) => row.result === 'MISS');
  s += `\n${table.filter((row) => row.result === 'PASS').length} targets met, ${missed.length} missed${missed.length ? ': ' + missed.map((row) => `${row.section} ${row.what}`).join('; ') : ''}.\n`;
  return s;
}

module.exports = { rows, render };
