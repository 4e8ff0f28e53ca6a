/**
 * A small in-process runner for durable background jobs (issue 14: `$export` "runs as a durable
 * background job; survives restart"). Jobs live in the database; the runner claims one at a time
 * (`FOR UPDATE SKIP LOCKED`, so several server processes share the queue) and runs it. It is woken
 * when a job is queued and when it starts, so a job left by a stopped process is taken up again:
 * a `running` job whose heartbeat is older than the lease counts as abandoned.
 */
import type { Logger } from '../log.js';

export interface JobQueue {
  /** Claims the next runnable job (pending, or running with a stale heartbeat); null when none. */
  claim(leaseMs: number): Promise<string | null>;
  /** Runs a claimed job to its end (completed, failed or cancelled); `alive` is false once the runner stops. */
  run(id: string, alive: () => boolean): Promise<void>;
  /** Marks a job failed after `run` threw. */
  fail(id: string, message: string): Promise<void>;
}

export interface JobRunner {
  start(): void;
  /** Asks the runner to look for work now. */
  wake(): void;
  /** Stops taking work; a job in progress stops at its next page and stays resumable. */
  stop(): Promise<void>;
}

export function createJobRunner(name: string, queue: JobQueue, logger: Logger, leaseMs = 30_000): JobRunner {
  let running = false;
  let stopped = true;
  let again = false;
  let current: Promise<void> = Promise.resolve();

  const loop = async (): Promise<void> => {
    running = true;
    try {
      do {
        again = false;
        for (;;) {
          if (stopped) return;
          const id = await queue.claim(leaseMs);
          if (!id) break;
          try {
            await queue.run(id, () => !stopped);
          } catch (err) {
            if (stopped) return; // the database may be closing; the job stays resumable
            logger.error('background job failed', { runner: name, job: id, error: (err as Error).message });
            await queue.fail(id, 'The export failed inside the server; start a new one').catch(() => undefined);
          }
        }
      } while (again && !stopped);
    } catch (err) {
      if (!stopped) logger.error('background job runner stopped on an error', { runner: name, error: (err as Error).message });
    } finally {
      running = false;
    }
  };

  const wake = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    current = loop();
  };

  return {
    start() {
      stopped = false;
      wake();
    },
    wake,
    async stop() {
      stopped = true;
      await current;
    },
  };
}
