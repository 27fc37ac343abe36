import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/api-docs.js';
import { PageQueryDto } from '../common/pagination/cursor.js';
import { ProjectAccess } from './access.decorators.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto.js';

@ApiTags('api-keys')
@Controller('v1/projects/:projectId/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @ProjectAccess('admin')
  @ApiOperation({ summary: 'Create an API key; the key is shown only in this answer' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  create(@Param('projectId') projectId: string, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(projectId, body);
  }

  @Get()
  @ProjectAccess('admin')
  @ApiOperation({ summary: "List the project's API keys (never the keys themselves)" })
  @ApiOkResponse({ type: ApiKeyListDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  list(@Param('projectId') projectId: string, @Query() query: PageQueryDto): Promise<ApiKeyListDto> {
    return this.apiKeys.list(projectId, query.limit, query.cursor);
  }

  @Delete(':keyId')
  @HttpCode(204)
  @ProjectAccess('admin')
  @ApiOperation({ summary: 'Revoke an API key; it stops working at once' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'API_KEY_NOT_FOUND')
  async revoke(@Param('projectId') projectId: string, @Param('keyId') keyId: string): Promise<void> {
    await this.apiKeys.revoke(projectId, keyId);
  }
}
