/**
 * One rest-hook notification (R4 subscription.html#channels): a POST to the resolved address
 * (ssrf.ts) with the Host and TLS server name of the endpoint, so the certificate is checked
 * against the name while the connection goes where the check said. Redirects are not followed (a
 * 3xx is a failed delivery), the exchange is bounded in time and the response in size.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ResolvedEndpoint } from './ssrf.js';

export interface PostLimits {
  timeoutMs: number;
  maxResponseBytes: number;
}

export const DEFAULT_LIMITS: PostLimits = { timeoutMs: 5_000, maxResponseBytes: 64 * 1024 };

export class DeliveryFailed extends Error {}

export function postNotification(target: ResolvedEndpoint, headers: Record<string, string>, body: string | null, limits: PostLimits = DEFAULT_LIMITS): Promise<number> {
  const { url } = target;
  const secure = url.protocol === 'https:';
  const hostName = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(status!);
    };
    const options: https.RequestOptions = {
      host: target.address,
      family: target.family,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: false,
      headers: { ...headers, host: url.host, 'content-length': String(body === null ? 0 : Buffer.byteLength(body)), 'user-agent': 'helsebro-subscriptions' },
      ...(secure && net.isIP(hostName) === 0 ? { servername: hostName } : {}),
    };
    const req = (secure ? https : http).request(options, (res) => {
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxResponseBytes) {
          req.destroy();
          finish(new DeliveryFailed(`the endpoint answered with more than ${limits.maxResponseBytes} bytes`));
        }
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) finish(new DeliveryFailed(`the endpoint answered ${status} (redirect to ${String(res.headers.location ?? '?').slice(0, 200)}); redirects are not followed`));
        else if (status < 200 || status >= 300) finish(new DeliveryFailed(`the endpoint answered ${status}`));
        else finish(null, status);
      });
      res.on('error', (err) => finish(new DeliveryFailed(`reading the answer failed: ${err.message}`)));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(new DeliveryFailed(`no answer within ${limits.timeoutMs} ms`));
    }, limits.timeoutMs);
    req.on('error', (err) => finish(new DeliveryFailed(`could not deliver: ${err.message}`)));
    req.end(body ?? undefined);
  });
}
