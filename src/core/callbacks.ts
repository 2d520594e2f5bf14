import { FaceproofError } from './errors.ts';

export interface CallbackOptions {
  /** Waits before each retry, in milliseconds: one retry per entry. */
  retryDelaysMs: readonly number[];
  /** How long one attempt may take. */
  timeoutMs: number;
  /** Told of each attempt that failed and of a notice given up. */
  warn?: (message: string) => void;
}

export const DEFAULT_CALLBACK_OPTIONS: CallbackOptions = { retryDelaysMs: [1000, 2000, 4000, 8000], timeoutMs: 5000 };

/** A callback URL a client may register: http or https, absolute, without credentials in it. */
export function assertCallbackUrl(value: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new FaceproofError('invalid_parameter', `${field} is not an absolute URL`, field);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FaceproofError('invalid_parameter', `${field} must be an http or https URL`, field);
  if (url.username || url.password) throw new FaceproofError('invalid_parameter', `${field} must not carry credentials`, field);
  return url;
}

/**
 * Tells a client's server that a result is ready (IDEMIA's callbackURL): a JSON POST, retried after
 * each delay of `retryDelaysMs` until a 2xx answer. Never throws and never delays the request that
 * triggered it; `settled` resolves once the notice was delivered (true) or given up (false).
 */
export class CallbackNotifier {
  private readonly inFlight = new Set<Promise<boolean>>();

  constructor(private readonly options: CallbackOptions = DEFAULT_CALLBACK_OPTIONS) {}

  notify(url: string, body: Record<string, unknown>): Promise<boolean> {
    const settled = this.deliver(url, JSON.stringify(body));
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
    return settled;
  }

  /** Waits for every notice under way (for a graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async deliver(url: string, payload: string): Promise<boolean> {
    const { retryDelaysMs, timeoutMs, warn } = this.options;
    for (let attempt = 0; attempt <= retryDelaysMs.length; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, retryDelaysMs[attempt - 1]).unref());
      let why: string;
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) return true;
        why = `answered ${res.status}`;
      } catch (err) {
        why = (err as Error).message;
      }
      warn?.(`callback ${url} attempt ${attempt + 1} of ${retryDelaysMs.length + 1} failed: ${why}`);
    }
    return false;
  }
}
