import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { canonicalTimeZoneCase } from '../common/http/validation.js';
import { decodeCursor, toPage, type Page } from '../common/pagination/cursor.js';
import type { CreateProjectDto, ProjectDto } from './dto/project.dto.js';
import { ProjectsRepository, SYSTEM_PROJECT_ID, type Project } from './projects.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function toProjectDto(project: Project): ProjectDto {
  return {
    id: project.id,
    name: project.name,
    timezone: project.timezone,
    sessionTimeoutMinutes: project.sessionTimeoutMinutes,
    createdAt: project.createdAt.toISOString(),
  };
}

@Injectable()
export class ProjectsService {
  constructor(private readonly projects: ProjectsRepository) {}

  async create(input: CreateProjectDto): Promise<ProjectDto> {
    const project = await this.projects.insert({
      name: input.name,
      timezone: canonicalTimeZoneCase(input.timezone ?? 'UTC'),
      sessionTimeoutMinutes: input.sessionTimeoutMinutes ?? 30,
    });
    return toProjectDto(project);
  }

  async list(limit: number, cursor?: string): Promise<Page<ProjectDto>> {
    const key = decodeCursor(cursor, ['timestamp', 'uuid']);
    const after = key ? { createdAt: String(key[0]), id: String(key[1]) } : undefined;
    const rows = await this.projects.list(limit + 1, after);
    return toPage(rows, limit, toProjectDto, (p) => [p.createdAt.toISOString(), p.id]);
  }

  /** The project, or PROJECT_NOT_FOUND. The reserved system project is never found here. */
  async get(projectId: string): Promise<Project> {
    const project = UUID.test(projectId) && projectId !== SYSTEM_PROJECT_ID ? await this.projects.findById(projectId) : undefined;
    if (!project) throw projectNotFound(projectId);
    return project;
  }
}

/** PROJECT_NOT_FOUND, also for a read that finds the project gone in its own statement. */
export function projectNotFound(projectId: string): AppError {
  return new AppError('PROJECT_NOT_FOUND', `No project with id "${projectId}".`);
}
