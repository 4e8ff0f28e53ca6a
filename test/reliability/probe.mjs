// Preloaded into the soak's server (`node --expose-gc --import probe.mjs dist/main.js`) by the
// reliability harness only; the server's own code knows nothing of it (issue 17, soak).
// On SIGUSR2 it runs a full garbage collection and appends one JSON line to RELIABILITY_PROBE_FILE:
// memory after the collection and the event-loop delay since the previous probe.
// Why a forced collection: V8 defers full collections while the old generation is far below its
// limit (about half of the heap limit, 4 GB on a 24 GB machine) and reclaims hundreds of MB of
// garbage only when the load pauses, so RSS sampled under load measures garbage not yet collected,
// not memory the server keeps. Memory after a full collection is what a leak would make grow.
import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';

const file = process.env.RELIABILITY_PROBE_FILE;
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
// The main thread's time on a CPU and waiting for one (Linux schedstat), to tell a slow server from a busy machine.
const sched = () => {
  try {
    const [run, wait] = fs.readFileSync('/proc/self/schedstat', 'utf8').split(' ').map(Number);
    return { run: run / 1e6, wait: wait / 1e6, at: performance.now() };
  } catch {
    return { run: 0, wait: 0, at: performance.now() };
  }
};
let lastSched = sched();
if (file && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    const now = sched();
    const wall = now.at - lastSched.at;
    const eld = { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, mean: delay.mean / 1e6, cpuShare: (now.run - lastSched.run) / wall, waitShare: (now.wait - lastSched.wait) / wall };
    lastSched = now;
    delay.reset();
    globalThis.gc();
    // A second pass after the first has run finalizers (WeakRefs, FinalizationRegistry).
    setImmediate(() => {
      globalThis.gc();
      const m = process.memoryUsage();
      fs.appendFileSync(file, `${JSON.stringify({ at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, external: m.external, eld })}\n`);
    });
  });
}
