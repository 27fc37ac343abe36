import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, toPage, type Page } from '../common/pagination/cursor.js';
import { toDateRange } from '../common/time/date-range.js';
import type {
  JourneyPathListDto,
  JourneyQueryDto,
  JourneyTransitionListDto,
  RangeQueryDto,
  SessionDto,
  SessionsQueryDto,
  SessionStatsDto,
} from './dto/session.dto.js';
import { SessionsRepository, type SessionRow } from './sessions.repository.js';

export function toSessionDto(row: SessionRow): SessionDto {
  return {
    sessionId: row.sessionId,
    userId: row.userId,
    status: row.status,
    startedAt: row.startedAt.toISOString(),
    endedAt: row.endedAt.toISOString(),
    completedAt: row.completedAt ? row.completedAt.toISOString() : null,
    durationSeconds: row.durationSeconds,
    pageCount: row.pageCount,
    eventCount: row.eventCount,
    entryPage: row.entryPage,
    exitPage: row.exitPage,
    journeyPath: row.journeyPath,
    bounced: row.bounced,
    converted: row.converted,
  };
}

/** The read side of sessions: lists, one session, statistics and journeys. */
@Injectable()
export class SessionsService {
  constructor(private readonly sessions: SessionsRepository) {}

  async list(projectId: string, query: SessionsQueryDto): Promise<Page<SessionDto>> {
    const range = toDateRange(query.from, query.to);
    const key = decodeCursor(query.cursor, ['timestamp', 'text']);
    const before = key ? { startedAt: String(key[0]), sessionId: String(key[1]) } : undefined;
    const rows = await this.sessions.list(
      projectId,
      { ...range, status: query.status, converted: query.converted, bounced: query.bounced },
      query.limit + 1,
      before,
    );
    return toPage(rows, query.limit, toSessionDto, (s) => [s.startedAt.toISOString(), s.sessionId]);
  }

  async get(projectId: string, sessionId: string): Promise<SessionDto> {
    const row = await this.sessions.findOne(projectId, sessionId);
    if (!row) throw new AppError('SESSION_NOT_FOUND', `No session "${sessionId}" in this project.`);
    return toSessionDto(row);
  }

  async stats(projectId: string, query: RangeQueryDto): Promise<SessionStatsDto> {
    const range = toDateRange(query.from, query.to);
    return this.sessions.stats(projectId, range.from, range.to);
  }

  async journeyPaths(projectId: string, query: JourneyQueryDto): Promise<JourneyPathListDto> {
    const range = toDateRange(query.from, query.to);
    return { data: await this.sessions.journeyPaths(projectId, range.from, range.to, query.limit) };
  }

  async journeyTransitions(projectId: string, query: JourneyQueryDto): Promise<JourneyTransitionListDto> {
    const range = toDateRange(query.from, query.to);
    return { data: await this.sessions.journeyTransitions(projectId, range.from, range.to, query.limit) };
  }
}
