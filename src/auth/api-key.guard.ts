import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../common/errors/app-error.js';
import { ProjectsService } from '../projects/projects.service.js';
import { ACCESS_METADATA, type AccessRule, type Principal } from './access.decorators.js';
import { AuthService } from './auth.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * The one access check: 401 when no valid key is presented, 403 when a valid key may not act on
 * this route, 404 when the admin key names a project that does not exist.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly projects: ProjectsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_METADATA, [context.getHandler(), context.getClass()]) ?? {
      kind: 'admin',
    };
    if (rule.kind === 'public') return true;

    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new AppError('UNAUTHENTICATED', 'Send an API key as "Authorization: Bearer <key>".');
    const principal = await this.auth.authenticate(token);
    if (!principal) throw new AppError('UNAUTHENTICATED', 'The API key is not valid or has been revoked.');
    request.principal = principal;

    if (rule.kind === 'admin') {
      if (principal.kind !== 'admin') throw new AppError('FORBIDDEN', 'This route needs the admin API key.');
      return true;
    }
    const projectId = (request.params as Record<string, string | undefined>).projectId;
    if (projectId === undefined) throw new Error('A project route must have a :projectId path parameter');
    if (principal.kind === 'admin') {
      await this.projects.get(projectId);
      return true;
    }
    if (principal.projectId !== projectId) {
      throw new AppError('FORBIDDEN', 'This API key belongs to another project.');
    }
    const allowed = rule.scope === 'any' || principal.scopes.includes(rule.scope) || principal.scopes.includes('admin');
    if (!allowed) throw new AppError('FORBIDDEN', `This API key lacks the "${rule.scope}" scope.`);
    return true;
  }
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
