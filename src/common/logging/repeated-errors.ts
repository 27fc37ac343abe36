/**
 * Keeps a burst of the same error to one log line per window: while the database is down, every
 * queue worker's poll fails the same way (hundreds of stack traces a minute), which buries what
 * an operator needs. The first error of a kind is logged at once; repeats within `windowMs` are
 * counted, and the next one logged after the window says how many were left out.
 */
export class RepeatedErrors {
  private readonly seen = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether to log this error now, and how many of its kind were left out since the last line. */
  admit(error: unknown): { log: boolean; suppressed: number } {
    const key = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const at = this.now();
    const entry = this.seen.get(key);
    if (entry && at - entry.loggedAt < this.windowMs) {
      entry.suppressed++;
      return { log: false, suppressed: 0 };
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.set(key, { loggedAt: at, suppressed: 0 });
    if (this.seen.size > 100) this.seen.delete(this.seen.keys().next().value!);
    return { log: true, suppressed };
  }
}
