import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type FieldError } from './app-error.js';
import { ERROR_CATALOGUE, problemType, type ErrorCode } from './error-catalogue.js';

/** The media type of every error answer (RFC 9457); the OpenAPI document names the same. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** Fastify's own errors (raised before our code runs) mapped onto the catalogue. */
const FASTIFY_ERROR_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_BAD_URL: 'VALIDATION_FAILED',
  FST_ERR_MAX_PARAM_LENGTH: 'VALIDATION_FAILED',
};

/** Node's codes for a connection that could not be made or was lost. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE']);

/**
 * Whether `error` says the database cannot be reached right now (not that a query was wrong): a
 * connection refused, lost or timed out, or PostgreSQL refusing work (SQLSTATE class 08, connection
 * exception; 57P01–57P03, shutting down or starting; 53300, too many connections) or refusing a new
 * connection (3D000, the database is gone; class 28, the login failed; 55000 with "not currently
 * accepting connections", its connections switched off). TypeORM keeps the driver's error as
 * `driverError`.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const candidate of [error, (error as { driverError?: unknown })?.driverError, (error as { cause?: unknown })?.cause]) {
    if (!(candidate instanceof Error)) continue;
    const code = (candidate as { code?: unknown }).code;
    // 08P01 (protocol violation) is in class 08 but is a bug of ours (a bind message with the wrong
    // number of parameters), not an outage
    if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || (/^08|^57P0[123]$|^53300$|^3D000$|^28/.test(code) && code !== '08P01'))) {
      return true;
    }
    if (code === '55000' && candidate.message.includes('not currently accepting connections')) return true;
    if (/^(Connection terminated|timeout exceeded when trying to connect)/.test(candidate.message)) return true;
  }
  return false;
}

function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) return new AppError('SERVICE_UNAVAILABLE', 'The database cannot be reached; retry shortly.');
  // Nest wraps Fastify's own errors in an HttpException whose cause keeps Fastify's code.
  const fastifyError = error instanceof HttpException && error.cause ? error.cause : error;
  const fastifyCode = (fastifyError as { code?: unknown })?.code;
  if (typeof fastifyCode === 'string' && FASTIFY_ERROR_CODES[fastifyCode]) {
    return new AppError(FASTIFY_ERROR_CODES[fastifyCode], (fastifyError as Error).message);
  }
  if (error instanceof SyntaxError && (error as { statusCode?: number }).statusCode === 400) {
    return new AppError('MALFORMED_JSON', error.message);
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status === 404) return new AppError('ROUTE_NOT_FOUND', error.message);
    if (status === 413) return new AppError('PAYLOAD_TOO_LARGE', error.message);
    if (status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', error.message);
    if (status === 405) return new AppError('METHOD_NOT_ALLOWED', error.message);
    if (status === 401) return new AppError('UNAUTHENTICATED', error.message);
    if (status === 403) return new AppError('FORBIDDEN', error.message);
    if (status === 400) return new AppError('VALIDATION_FAILED', error.message);
  }
  const statusCode = (error as { statusCode?: unknown })?.statusCode;
  if (statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', (error as Error).message);
  if (statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', (error as Error).message);
  if (statusCode === 400) return new AppError('VALIDATION_FAILED', (error as Error).message);
  return undefined;
}

/** Builds the RFC 9457 body for an error; unknown errors become a bare 500 with the request id. */
export function toProblem(error: unknown, requestId: string, instance?: string): ProblemBody {
  const appError = toAppError(error) ?? new AppError('INTERNAL_ERROR', 'An unexpected error occurred.');
  const { title, status } = ERROR_CATALOGUE[appError.code];
  return {
    type: problemType(appError.code),
    title,
    status,
    detail: appError.detail ?? title,
    code: appError.code,
    requestId,
    ...(instance ? { instance } : {}),
    ...(appError.options.errors ? { errors: appError.options.errors } : {}),
    ...(appError.options.extensions ?? {}),
  };
}

export function sendProblem(reply: FastifyReply, problem: ProblemBody): void {
  void reply.status(problem.status).header('content-type', `${PROBLEM_MEDIA_TYPE}; charset=utf-8`).send(problem);
}

/** The one place every error becomes a problem+json answer. Never leaks a stack trace. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = toProblem(error, String(request.id), request.url);
    if (problem.status >= 500) {
      this.logger.error({ err: error, requestId: request.id, url: request.url }, 'request failed');
    }
    sendProblem(reply, problem);
  }
}
