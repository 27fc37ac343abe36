import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { decodeCursor, encodeCursor, toPage } from '../common/pagination/cursor.js';
import { toDateRange } from '../common/time/date-range.js';
import type { CreateFunnelDto, FunnelDto, FunnelListDto, FunnelMatcherDto, FunnelReportDto } from './dto/funnel.dto.js';
import { DEFAULT_FUNNEL, DEFAULT_FUNNEL_ID, type FunnelMatcher, type FunnelStep } from './funnel.constants.js';
import { FunnelsRepository, type FunnelRow } from './funnels.repository.js';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const cursorKey = (row: FunnelRow) => [row.createdAt.toISOString(), row.id];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toFunnelDto(row: FunnelRow): FunnelDto {
  return { id: row.id, name: row.name, steps: row.steps, createdAt: row.createdAt.toISOString() };
}

/** A matcher as stored: optional fields sent as null are absent (IsOptional lets null through). */
function toMatcher(m: FunnelMatcherDto): FunnelMatcher {
  return {
    eventType: m.eventType ?? 'pageview',
    ...(m.path != null ? { path: m.path } : {}),
    ...(m.eventName != null ? { eventName: m.eventName } : {}),
  };
}

const DEFAULT_FUNNEL_DTO: FunnelDto = {
  id: DEFAULT_FUNNEL.id,
  name: DEFAULT_FUNNEL.name,
  steps: DEFAULT_FUNNEL.steps.map((s) => ({ ...s })),
  createdAt: null,
};

/** Funnel definitions (the built-in `default` plus each project's own) and their reports. */
@Injectable()
export class FunnelsService {
  constructor(private readonly funnels: FunnelsRepository) {}

  /** The built-in funnel opens the first page; custom ones follow, oldest first. */
  async list(projectId: string, limit: number, cursor?: string): Promise<FunnelListDto> {
    const key = decodeCursor(cursor, ['timestamp', 'uuid']);
    if (key) {
      const rows = await this.funnels.list(projectId, limit + 1, { createdAt: String(key[0]), id: String(key[1]) });
      return toPage(rows, limit, toFunnelDto, cursorKey);
    }
    const rows = await this.funnels.list(projectId, limit);
    const custom = rows.slice(0, limit - 1);
    const more = rows.length > custom.length;
    // A first page of one holds only the built-in funnel: the next starts before every custom one.
    const last = custom.length ? cursorKey(custom[custom.length - 1]) : [new Date(0).toISOString(), NIL_UUID];
    return { data: [DEFAULT_FUNNEL_DTO, ...custom.map(toFunnelDto)], nextCursor: more ? encodeCursor(last) : null };
  }

  async create(projectId: string, input: CreateFunnelDto): Promise<FunnelDto> {
    const steps: FunnelStep[] = input.steps.map((s) => ({
      name: s.name,
      ...toMatcher(s),
      ...(s.alternatives?.length ? { alternatives: s.alternatives.map(toMatcher) } : {}),
    }));
    return toFunnelDto(await this.funnels.insert(projectId, input.name, steps));
  }

  async delete(projectId: string, funnelId: string): Promise<void> {
    if (funnelId === DEFAULT_FUNNEL_ID) throw new AppError('FUNNEL_READ_ONLY', 'The built-in funnel cannot be deleted.');
    const deleted = UUID.test(funnelId) && (await this.funnels.delete(projectId, funnelId));
    if (!deleted) throw new AppError('FUNNEL_NOT_FOUND', `No funnel "${funnelId}" in this project.`);
  }

  async report(projectId: string, funnelId: string, from?: string, to?: string): Promise<FunnelReportDto> {
    const funnel = await this.definition(projectId, funnelId);
    const range = toDateRange(from, to);
    const visitors = await this.funnels.stageVisitors(projectId, funnel.steps, range.from, range.to);
    return {
      funnelId: funnel.id,
      from: range.from ? range.from.toISOString() : null,
      to: range.to ? range.to.toISOString() : null,
      stages: funnel.steps.map((step, i) => ({
        stage: step.name,
        visitors: visitors[i],
        dropOffRate: i === visitors.length - 1 || visitors[i] === 0 ? null : (visitors[i] - visitors[i + 1]) / visitors[i],
        conversionFromStart: visitors[0] === 0 ? null : visitors[i] / visitors[0],
      })),
    };
  }

  private async definition(projectId: string, funnelId: string): Promise<{ id: string; steps: FunnelStep[] }> {
    if (funnelId === DEFAULT_FUNNEL_ID) return { id: DEFAULT_FUNNEL_ID, steps: DEFAULT_FUNNEL.steps };
    const row = UUID.test(funnelId) ? await this.funnels.find(projectId, funnelId) : undefined;
    if (!row) throw new AppError('FUNNEL_NOT_FOUND', `No funnel "${funnelId}" in this project.`);
    return row;
  }
}
