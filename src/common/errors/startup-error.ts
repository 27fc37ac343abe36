import type { Logger } from 'pino';

/**
 * Why the service cannot start, in one line naming the environment variable the operator should
 * look at (the README's promise for configuration, kept for what only shows at start: a port in
 * use, a data directory that cannot be written, a database that does not answer).
 */
export class StartupError extends Error {
  constructor(
    readonly variable: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** The URL with its password masked, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** The message of a caught value, with an errno code in front when there is one (EACCES: …). */
export function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

/** Logs a failed start as one JSON line: the variable and the message for a known cause, else the error with its stack. */
export function logStartupFailure(log: Logger, error: unknown): void {
  if (error instanceof StartupError) {
    const cause = error.cause === undefined ? {} : { cause: describeCause(error.cause) };
    log.fatal({ variable: error.variable, ...cause }, error.message);
  } else {
    log.fatal({ err: error }, 'start failed');
  }
}
