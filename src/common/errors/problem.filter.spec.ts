import { QueryFailedError } from 'typeorm';
import { toProblem } from './problem.filter.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('toProblem: the database out of reach is a 503, not a 500', () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a connection lost mid-query', new Error('Connection terminated unexpectedly')],
    ['a pool that cannot connect in time', new Error('timeout exceeded when trying to connect')],
    ['PostgreSQL shutting down (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['too many connections (53300)', withCode('sorry, too many clients already', '53300')],
    ['a connection exception (08006)', new QueryFailedError('SELECT 1', [], withCode('connection failure', '08006'))],
    ['the database gone (3D000)', withCode('database "trailmark" does not exist', '3D000')],
    ['a failed login (28P01)', withCode('password authentication failed for user "trailmark"', '28P01')],
    ['connections switched off (55000)', withCode('database "trailmark" is not currently accepting connections', '55000')],
  ])('%s', (_name, error) => {
    expect(toProblem(error, 'req-1')).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', requestId: 'req-1' });
  });

  it.each([
    ['an unknown column', withCode('column "x" does not exist', '42703')],
    ['another 55000 (a state a statement needs)', withCode('cannot refresh materialized view concurrently', '55000')],
    ['a protocol violation (08P01: a statement sent with the wrong number of parameters)', withCode('bind message supplies 2 parameters', '08P01')],
  ])('keeps a failing query (a bug: %s) a 500 that says nothing of it', (_name, driverError) => {
    const problem = toProblem(new QueryFailedError('SELECT x', [], driverError), 'req-2');
    expect(problem).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
    expect(JSON.stringify(problem)).not.toMatch(/column|bind/);
  });
});
