import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { queryOne, queryPrepared, queryRows } from '../common/database/sql.js';

export interface Project {
  id: string;
  name: string;
  timezone: string;
  sessionTimeoutMinutes: number;
  createdAt: Date;
}

const COLUMNS = `id, name, timezone, session_timeout_minutes AS "sessionTimeoutMinutes", created_at AS "createdAt"`;

/** The nil UUID holds the service's own operational metrics; it is never a customer project. */
export const SYSTEM_PROJECT_ID = '00000000-0000-0000-0000-000000000000';

@Injectable()
export class ProjectsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(project: { name: string; timezone: string; sessionTimeoutMinutes: number }): Promise<Project> {
    const row = await queryOne<Project>(
      this.db,
      `INSERT INTO projects (name, timezone, session_timeout_minutes) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
      [project.name, project.timezone, project.sessionTimeoutMinutes],
    );
    return row!;
  }

  /** On most requests (every project route finds its project): a prepared statement. */
  async findById(id: string): Promise<Project | undefined> {
    return (await queryPrepared<Project>(this.db, `SELECT ${COLUMNS} FROM projects WHERE id = $1`, [id]))[0];
  }

  /** Oldest first; `after` is the (createdAt, id) of the last row of the previous page. */
  list(limit: number, after?: { createdAt: string; id: string }): Promise<Project[]> {
    return queryRows(
      this.db,
      `SELECT ${COLUMNS} FROM projects
       WHERE id <> $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
       ORDER BY created_at, id LIMIT $4`,
      [SYSTEM_PROJECT_ID, after?.createdAt ?? null, after?.id ?? null, limit],
    );
  }
}
