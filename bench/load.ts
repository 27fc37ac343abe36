/** Load runs over loopback with autocannon, the row each bench prints per run, and the API calls that set a run up. */
import autocannon from 'autocannon';

export function runLoad(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(options, (error, result) => (error ? reject(error) : resolve(result))));
}

/** One line of a bench's table: requests, status counts, latency (ms) and the rate achieved. */
export function latencyRow(label: string, r: autocannon.Result) {
  return {
    label,
    requests: r.requests.total,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    rps: r.requests.average,
  };
}

/** One JSON call to the bench server with a bearer key; throws on any non-2xx answer. */
export async function callApi<T = Record<string, string>>(base: string, method: string, url: string, key: string, body?: unknown): Promise<T> {
  const res = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
