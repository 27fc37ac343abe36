import { Controller, Get, Logger } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, TypeOrmHealthIndicator, type HealthCheckResult } from '@nestjs/terminus';
import { Public } from '../../auth/access.decorators.js';
import { AppError } from '../errors/app-error.js';
import { ApiProblems } from '../http/api-docs.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly logger = new Logger(HealthController.name);

  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
  ) {}

  @Get('live')
  @Public()
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @ApiOperation({ summary: 'Readiness: the database answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok', info: { database: { status: 'up' } } } } })
  @ApiProblems('SERVICE_UNAVAILABLE')
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.database.pingCheck('database', { timeout: 3000 })]);
    } catch (error) {
      // The checks' messages name the database host and port (`connect ECONNREFUSED 10.0.0.5:5432`):
      // they go to the log; the public answer says only which check is down.
      const result = (error as { response?: Partial<HealthCheckResult> }).response;
      this.logger.warn({ checks: result?.details }, 'not ready');
      const checks = Object.fromEntries(Object.entries(result?.details ?? {}).map(([name, { status }]) => [name, { status }]));
      throw new AppError('SERVICE_UNAVAILABLE', 'The database does not answer.', { extensions: { checks } });
    }
  }
}
