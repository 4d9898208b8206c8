// BullMQ 6.7 measured the way BENCHMARKS.md describes, so that orderdesk-bench can compare
// orderdesk with it in the same run. Prints one JSON line on stdout:
//   {"peer":"bullmq","version":"6.7.0","mode":"chain","items":2000,"seconds":0.91,"per_sec":2197}
//
//   node bullmq.mjs chain --redis redis://127.0.0.1:6379 --prefix P [--chains 2000]
//   node bullmq.mjs drain --redis redis://127.0.0.1:6379 --prefix P [--jobs 20000]
//
// chain: one Worker (concurrency 50) on queue `flow`; 2,000 `step1` jobs added with addBulk
//   in chunks of 100; each handler adds the next step (`step2`, `step3`) before it returns;
//   the clock runs from the first add until the 2,000th `step3` completed.
// drain: 20,000 no-op jobs added with addBulk (chunks of 1,000) before a Worker
//   (concurrency 50) starts; the clock runs from the worker's start to the 20,000th
//   completion.
// BENCHMARKS.md flushes a Redis database of its own before each run; here every run gets a
// fresh key prefix instead (the caller's, which it deletes afterwards), since the Redis is
// shared and must never be flushed. Both start from an empty queue.

import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const require = createRequire(import.meta.url);
const VERSION = require('bullmq/package.json').version;
const CONCURRENCY = 50;

function args() {
  const [mode, ...rest] = process.argv.slice(2);
  const opts = { mode, redis: 'redis://127.0.0.1:6379', prefix: 'bullmq-bench', chains: 2000, jobs: 20000 };
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, '');
    if (!(key in opts)) throw new Error(`unknown option ${rest[i]}`);
    opts[key] = typeof opts[key] === 'number' ? Number(rest[i + 1]) : rest[i + 1];
  }
  if (mode !== 'chain' && mode !== 'drain') throw new Error('mode must be chain or drain');
  return opts;
}

function connection(url) {
  // BullMQ requires maxRetriesPerRequest: null on the worker's blocking connection
  return new IORedis(url, { maxRetriesPerRequest: null });
}

async function chain(o) {
  const conn = connection(o.redis);
  const queue = new Queue('flow', { connection: conn, prefix: o.prefix });
  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => { finished = resolve; });
  const next = { step1: 'step2', step2: 'step3' };
  const worker = new Worker(
    'flow',
    async (job) => {
      const name = next[job.name];
      if (name) await queue.add(name, { n: job.data.n });
    },
    { connection: connection(o.redis), prefix: o.prefix, concurrency: CONCURRENCY },
  );
  worker.on('completed', (job) => {
    if (job.name === 'step3' && ++done === o.chains) finished();
  });
  await worker.waitUntilReady();
  const started = process.hrtime.bigint();
  for (let first = 0; first < o.chains; first += 100) {
    const chunk = [];
    for (let n = first; n < Math.min(first + 100, o.chains); n++) chunk.push({ name: 'step1', data: { n } });
    await queue.addBulk(chunk);
  }
  await allDone;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await worker.close();
  await queue.close();
  await conn.quit();
  return { items: o.chains, seconds };
}

async function drain(o) {
  const conn = connection(o.redis);
  const queue = new Queue('drain', { connection: conn, prefix: o.prefix });
  for (let first = 0; first < o.jobs; first += 1000) {
    const chunk = [];
    for (let n = first; n < Math.min(first + 1000, o.jobs); n++) chunk.push({ name: 'noop', data: { n } });
    await queue.addBulk(chunk);
  }
  let done = 0;
  let finished;
  const allDone = new Promise((resolve) => { finished = resolve; });
  const worker = new Worker('drain', async () => {}, {
    connection: connection(o.redis),
    prefix: o.prefix,
    concurrency: CONCURRENCY,
    autorun: false,
  });
  worker.on('completed', () => {
    if (++done === o.jobs) finished();
  });
  await worker.waitUntilReady();
  const started = process.hrtime.bigint();
  const running = worker.run();
  await allDone;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await worker.close();
  await running;
  await queue.close();
  await conn.quit();
  return { items: o.jobs, seconds };
}

const o = args();
const r = o.mode === 'chain' ? await chain(o) : await drain(o);
console.log(JSON.stringify({ peer: 'bullmq', version: VERSION, mode: o.mode, ...r, per_sec: r.items / r.seconds }));
process.exit(0);
