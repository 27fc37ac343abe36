/** The few parts of autocannon (no bundled types) the benchmarks use. */
declare module 'autocannon' {
  interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    duration?: number;
  }
  interface Result {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    '2xx': number;
  }
  export default function autocannon(options: Options): Promise<Result>;
}
