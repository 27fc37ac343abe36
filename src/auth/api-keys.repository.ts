import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { execute, queryOne, queryPrepared, queryRows } from '../common/database/sql.js';
import type { ApiKeyScope } from './api-key.js';

export interface ApiKeyRow {
  projectId: string;
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  revokedAt: Date | null;
}

export interface ApiKeyCredential {
  projectId: string;
  id: string;
  scopes: ApiKeyScope[];
  secretHash: Buffer;
}

const COLUMNS = `project_id AS "projectId", id, name, scopes, created_at AS "createdAt", revoked_at AS "revokedAt"`;

@Injectable()
export class ApiKeysRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(key: { projectId: string; name: string; scopes: ApiKeyScope[]; prefix: string; secretHash: Buffer }): Promise<ApiKeyRow> {
    const row = await queryOne<ApiKeyRow>(
      this.db,
      `INSERT INTO api_keys (project_id, name, scopes, prefix, secret_hash)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
      [key.projectId, key.name, key.scopes, key.prefix, key.secretHash],
    );
    return row!;
  }

  /** Oldest first; `after` = (created_at, id) of the previous page's last key. */
  list(projectId: string, limit: number, after?: { createdAt: string; id: string }): Promise<ApiKeyRow[]> {
    return queryRows(
      this.db,
      `SELECT ${COLUMNS} FROM api_keys
       WHERE project_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
       ORDER BY created_at, id LIMIT $4`,
      [projectId, after?.createdAt ?? null, after?.id ?? null, limit],
    );
  }

  /** Marks the key revoked; true when it existed. Revoking twice keeps the first time. */
  async revoke(projectId: string, keyId: string): Promise<boolean> {
    const revoked = await execute(this.db, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE project_id = $1 AND id = $2`, [
      projectId,
      keyId,
    ]);
    return revoked > 0;
  }

  /**
   * Live (not revoked) keys with this prefix: in practice zero or one. Read on every request, never
   * cached, so a revoked key stops working at once; a prepared statement keeps it cheap.
   */
  findLiveByPrefix(prefix: string): Promise<ApiKeyCredential[]> {
    return queryPrepared(
      this.db,
      `SELECT project_id AS "projectId", id, scopes, secret_hash AS "secretHash"
       FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL`,
      [prefix],
    );
  }
}
