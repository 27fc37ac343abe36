import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, toPage, type Page } from '../common/pagination/cursor.js';
import { ProjectsService } from '../projects/projects.service.js';
import { generateApiKey } from './api-key.js';
import { ApiKeysRepository, type ApiKeyRow } from './api-keys.repository.js';
import type { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toApiKeyDto(row: ApiKeyRow): ApiKeyDto {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
  };
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly projects: ProjectsService,
  ) {}

  async create(projectId: string, input: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    await this.projects.get(projectId);
    const generated = generateApiKey();
    const row = await this.keys.insert({
      projectId,
      name: input.name,
      scopes: input.scopes,
      prefix: generated.prefix,
      secretHash: generated.secretHash,
    });
    return { id: row.id, name: row.name, scopes: row.scopes, key: generated.key, createdAt: row.createdAt.toISOString() };
  }

  async list(projectId: string, limit: number, cursor?: string): Promise<Page<ApiKeyDto>> {
    const key = decodeCursor(cursor, ['timestamp', 'uuid']);
    const rows = await this.keys.list(projectId, limit + 1, key ? { createdAt: String(key[0]), id: String(key[1]) } : undefined);
    return toPage(rows, limit, toApiKeyDto, (k) => [k.createdAt.toISOString(), k.id]);
  }

  async revoke(projectId: string, keyId: string): Promise<void> {
    const revoked = UUID.test(keyId) && (await this.keys.revoke(projectId, keyId));
    if (!revoked) throw new AppError('API_KEY_NOT_FOUND', `No API key with id "${keyId}" in this project.`);
  }
}
