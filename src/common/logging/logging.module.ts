import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../config/config.js';

/** A client-sent x-request-id is kept when it is a short plain token; otherwise we make one. */
export function requestIdOf(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

/**
 * JSON lines through pino; every request is logged with its id (and every line logged while it is
 * served carries it); secrets are redacted. `destination`: standard output unless given.
 */
export function loggingModule(config: AppConfig, destination?: Writable) {
  const options: Options = {
    level: config.logLevel,
    genReqId: (req) => (req as IncomingMessage & { id?: string }).id ?? requestIdOf(req),
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
      censor: '[redacted]',
    },
    // the probes and the scraper call these every few seconds
    autoLogging: { ignore: (req) => /^\/(health\/live|metrics)(\?|$)/.test(req.url ?? '') },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    transport:
      config.logPretty && config.nodeEnv !== 'production' && !destination ? { target: 'pino-pretty', options: { singleLine: true } } : undefined,
  };
  return LoggerModule.forRoot({
    pinoHttp: destination ? [options, destination] : options,
    // nestjs-pino's default route pattern ({/*splat}) matches no request under NestJS 12 with
    // Fastify, which left every request unlogged: every path, every method.
    forRoutes: [{ path: '*', method: RequestMethod.ALL }],
  });
}
