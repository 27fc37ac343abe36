/**
 * Builds the HTTP application: Fastify with our limits and request ids, the validation pipe, the
 * problem+json error path, HTTP metrics, and the OpenAPI document. Used by main and the tests.
 */
import type { IncomingMessage } from 'node:http';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import type { AppConfig } from './common/config/config.js';
import { ERROR_CATALOGUE, ERROR_CODES, problemType } from './common/errors/error-catalogue.js';
import { ProblemDto } from './common/errors/problem.dto.js';
import { ProblemFilter, sendProblem, toProblem } from './common/errors/problem.filter.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { completeOpenApiDocument } from './common/http/api-docs.js';
import { checkJsonBody } from './common/http/json-body.js';
import { EVENTS_ROUTE } from './events/event-types.js';
import { UndeclaredInputInterceptor } from './common/http/undeclared-input.interceptor.js';
import { createValidationPipe } from './common/http/validation.js';
import { requestIdOf } from './common/logging/logging.module.js';
import { MetricsRegistry } from './common/observability/metrics.registry.js';
import { OperationalMetricsProcessor } from './operational-metrics/operational-metrics.processor.js';

/**
 * `logger` takes Nest's own messages until the app's pino logger is attached; when the app fails
 * to build they are flushed to it, so pass a JSON logger to keep a failed start in JSON lines.
 */
export async function createApp(options: AppModuleOptions, logger?: LoggerService): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), createAdapter(options.config), {
    logger,
    bufferLogs: true,
    abortOnError: false,
    bodyParser: false,
  });
  return configureApp(app);
}

export function createAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    logger: false,
    requestIdHeader: false,
    genReqId: (raw: IncomingMessage) => {
      const id = requestIdOf(raw);
      (raw as IncomingMessage & { id?: string }).id = id;
      return id;
    },
    // Path parameters carry ids of up to 128 characters (user and session ids), percent-encoded;
    // Fastify's default cap is 100.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    // errors Fastify's router raises before any route runs (a malformed percent-encoding, a path
    // parameter over the cap) answer as problem details too, not as Fastify's own JSON
    // (no hook runs for them, so the request id header is set here)
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) =>
      sendProblem(reply.header('x-request-id', request.id), toProblem(error, String(request.id), request.url)),
  });
}

/** Everything after construction; the tests build the app through Nest's testing module and call this. */
export function configureApp(app: NestFastifyApplication): NestFastifyApplication {
  app.useLogger(app.get(Logger));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalInterceptors(new UndeclaredInputInterceptor());
  app.useGlobalFilters(new ProblemFilter());

  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: everything else is a 415. Fastify's own JSON parser (with its prototype-poisoning
  // checks) stays, except that an empty body sent as application/json counts as no body: many
  // clients label every request JSON, and a body-less POST (a job run, a recompute) must not be
  // a 400 for it. A route that needs a body still answers 400 VALIDATION_FAILED naming the field.
  fastify.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) return done(null, undefined);
    return parseJson(request, body as string, (error, parsed) => {
      if (error) return done(error, undefined);
      // ingestion turns away an event with such texts on its own, keeping the batch's other events
      const checkText = request.routeOptions.url !== `/${EVENTS_ROUTE}`;
      const problem = checkJsonBody(body as string, parsed, checkText);
      return problem ? done(problem, undefined) : done(null, parsed);
    });
  });
  const metrics = app.get(MetricsRegistry);
  const operationalMetrics = app.get(OperationalMetricsProcessor);
  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500) {
      metrics.errors.inc({ actor: 'http', code: `HTTP_${reply.statusCode}` });
      await operationalMetrics.recordHttpError(reply.statusCode);
    }
  });
  const document = createOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });

  app.enableShutdownHooks([]);
  return app;
}

/** The OpenAPI document of the app's routes; also written without a database by `npm run client:generate`. */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  return completeOpenApiDocument(SwaggerModule.createDocument(app, openApiConfig(), { extraModels: [ProblemDto] }));
}

function openApiConfig(): Omit<OpenAPIObject, 'paths'> {
  const catalogue = ERROR_CODES.map(
    (code) => `| \`${code}\` | ${ERROR_CATALOGUE[code].status} | ${ERROR_CATALOGUE[code].title} | ${problemType(code)} |`,
  ).join('\n');
  return new DocumentBuilder()
    .setTitle('Trailmark API')
    .setVersion('1')
    .setDescription(
      [
        'Self-hosted product analytics: events in; sessions, journeys, funnels, quality metrics, KPI trends and rollups out.',
        '',
        'Authenticate with `Authorization: Bearer <key>`: the admin key manages projects and jobs; project keys carry the scopes `ingest`, `read` and `admin`.',
        'Each operation states what it needs in `x-required-scope` and at the end of its summary: `none` (no key), `admin-key` (the admin key only), ' +
          'or what a key of the project in the path needs: a scope (`ingest`, `read`, `admin`; a key with `admin` holds every scope) or `any` of its keys. ' +
          'The admin key may call every operation.',
        'Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code` and the `requestId`.',
        '',
        '## Error codes',
        '| code | status | title | type |',
        '| --- | --- | --- | --- |',
        catalogue,
      ].join('\n'),
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'API key', description: 'An API key' })
    .build();
}
