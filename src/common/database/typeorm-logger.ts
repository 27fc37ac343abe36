import { Logger } from '@nestjs/common';
import { AbstractLogger, type LogLevel, type LogMessage } from 'typeorm';

/**
 * TypeORM's messages through Nest's logger, so they come out as the service's JSON lines: TypeORM's
 * default console logger prints a failed migration as plain text whatever `logging` says.
 */
export class TypeOrmLogger extends AbstractLogger {
  private readonly logger = new Logger('TypeORM');

  protected writeLog(level: LogLevel, messages: LogMessage | string | number | (LogMessage | string | number)[]): void {
    for (const { type, prefix, message } of this.prepareLogMessages(messages, { highlightSql: false })) {
      const line = prefix ? `${prefix} ${String(message)}` : String(message);
      // Only failures are logged as `migration` (success is schema-build, off unless asked for).
      const kind = type ?? level;
      if (kind === 'error' || kind === 'query-error' || kind === 'migration') this.logger.error(line);
      else if (kind === 'warn' || kind === 'query-slow') this.logger.warn(line);
      else this.logger.log(line);
    }
  }
}
