import net from 'node:net';

/** A free TCP port on loopback, for starting a server process to measure or test. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls GET /v1/health until it answers 200; returns how long that took. */
export async function waitForHealth(baseUrl: string, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      if ((await fetch(`${baseUrl}/v1/health`)).ok) return Date.now() - started;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no answer from ${baseUrl}/v1/health within ${timeoutMs} ms`);
}
