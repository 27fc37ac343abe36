import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../../auth/access.decorators.js';
import { MetricsRegistry } from './metrics.registry.js';

@ApiTags('health')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsRegistry) {}

  @Get()
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics: HTTP requests, errors, jobs, queues, KPI events and the Node.js process' })
  @ApiOkResponse({
    description: 'Prometheus text exposition format, version 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`)',
    content: {
      'text/plain': {
        schema: {
          type: 'string',
          example:
            '# HELP trailmark_queue_depth Jobs waiting in each durable queue, as last sampled\n# TYPE trailmark_queue_depth gauge\ntrailmark_queue_depth{queue="session-metrics"} 0\n',
        },
      },
    },
  })
  render(): Promise<string> {
    return this.metrics.metrics();
  }
}
