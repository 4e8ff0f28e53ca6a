/**
 * Waits for something the server does on its own time (a Subscription's rest-hook call, an outbox
 * delivery): polls `probe` every 100 ms until it returns a value, or fails naming `what`.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
