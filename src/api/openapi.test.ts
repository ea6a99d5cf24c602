import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { buildOpenApiDocument, describeBodyContent, openApiPath } from './openapi.js';
import type { RouteSpec } from './route.js';

const Widget = z.object({ name: z.string(), size: z.number().default(1) }).meta({ id: 'Widget' });
const Note = z.object({ text: z.string() }).meta({ id: 'Note' });

const routes: RouteSpec[] = [
  {
    method: 'PUT',
    path: '/widgets/:widgetId',
    operationId: 'putWidget',
    summary: 'Put a widget',
    tags: ['Widgets'],
    access: 'tenant',
    params: z.object({ widgetId: z.string().min(1) }),
    query: z.object({ dryRun: z.coerce.boolean().optional().describe('Only validate') }),
    body: Widget,
    responses: { 200: { description: 'The widget', schema: Widget }, 404: { description: 'No such widget' } },
  },
  {
    method: 'POST',
    path: '/notes',
    operationId: 'createNote',
    summary: 'Add a note',
    tags: ['Notes'],
    access: 'admin',
    body: describeBodyContent(z.union([Note, z.string()]), { 'application/json': Note, 'text/plain': z.string() }),
    responses: { 201: { description: 'The note', schema: Note }, 204: { description: 'never' } },
  },
  {
    method: 'GET',
    path: '/recordings/:id',
    operationId: 'getRecording',
    summary: 'A recording',
    tags: ['Notes'],
    access: 'any',
    responses: { 200: { description: 'WAV', contentType: 'audio/wav' } },
  },
];

describe('buildOpenApiDocument', () => {
  const doc = buildOpenApiDocument(routes);
  const put = doc.paths['/v1/widgets/{widgetId}']?.put as Record<string, any>;

  test('paths move under /v1 with {param} syntax', () => {
    assert.equal(openApiPath('/calls/:id/hangup'), '/v1/calls/{id}/hangup');
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/v1')), ['/v1/widgets/{widgetId}', '/v1/notes', '/v1/recordings/{id}']);
    assert.equal(doc.openapi, '3.1.0');
  });

  test('operations carry id, summary, tags, access, parameters (tenantId added to tenant routes)', () => {
    assert.equal(put.operationId, 'putWidget');
    assert.deepEqual(put.tags, ['Widgets']);
    assert.equal(put['x-parley-access'], 'tenant');
    assert.deepEqual(
      put.parameters.map((p: any) => [p.name, p.in, p.required]),
      [
        ['widgetId', 'path', true],
        ['dryRun', 'query', false],
        ['tenantId', 'query', false],
      ],
    );
    assert.equal(put.parameters[1].description, 'Only validate');
    const recording = doc.paths['/v1/recordings/{id}']?.get as Record<string, any>;
    assert.deepEqual(recording.parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    assert.deepEqual(Object.keys(recording.responses[200].content), ['audio/wav']);
  });

  test('named schemas become components; an input form that differs gets an Input suffix', () => {
    assert.deepEqual(put.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/WidgetInput' });
    assert.deepEqual(put.responses[200].content['application/json'].schema, { $ref: '#/components/schemas/Widget' });
    assert.deepEqual(doc.components.schemas.Widget?.required, ['name', 'size']);
    assert.deepEqual(doc.components.schemas.WidgetInput?.required, ['name']);
    assert.ok(doc.components.schemas.Note, 'same in both forms: one component');
    assert.equal(doc.components.schemas.NoteInput, undefined);
  });

  test('declared body content types are documented each with its schema', () => {
    const post = doc.paths['/v1/notes']?.post as Record<string, any>;
    assert.deepEqual(post.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/Note' });
    assert.deepEqual(post.requestBody.content['text/plain'].schema, { type: 'string' });
  });

  test('errors: declared 4xx, 401, 4XX and 5XX use the error body schema', () => {
    for (const status of ['404', '401', '4XX', '5XX']) {
      assert.deepEqual(put.responses[status].content['application/json'].schema, { $ref: '#/components/schemas/ErrorBody' }, status);
    }
    const codes = (doc.components.schemas.ErrorBody as any).properties.error.properties.code.enum as string[];
    assert.ok(codes.includes('not_found') && codes.includes('read_only'));
  });

  test('bearer security on /v1, none on the hand-documented endpoints', () => {
    assert.deepEqual(doc.security, [{ bearer: [] }]);
    assert.equal((doc.components.securitySchemes.bearer as any).scheme, 'bearer');
    for (const p of ['/health', '/metrics', '/twilio/voice', '/twilio/status', '/twilio/stream']) {
      const op = Object.values(doc.paths[p] ?? {})[0] as Record<string, any>;
      assert.deepEqual(op.security, [], p);
    }
  });
});
