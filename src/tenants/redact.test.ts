import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REDACTED, maskSecret, redactTenant } from './redact.js';
import { tenantSchema } from './schema.js';

const TWILIO_TOKEN = 'twilio-auth-token-0123456789abcd';
const WEBHOOK_SECRET = 'webhook-secret-0123456789-wxyz';
const TOOL_SECRET = 'http-tool-secret-0123456789-tool';
const OPENAI_KEY = 'sk-openai-key-0123456789-OPEN';
const ELEVEN_KEY = 'eleven-key-0123456789-ELEV';
const BEARER = 'Bearer tool-header-token-123456';

function tenant() {
  return tenantSchema.parse({
    id: 'acme',
    name: 'Acme',
    phoneNumbers: ['+15550100001'],
    twilio: { accountSid: `AC${'0'.repeat(32)}`, authToken: TWILIO_TOKEN },
    webhooks: [{ url: 'https://user:hunter2@hooks.example.com/parley', secret: WEBHOOK_SECRET }],
    agent: {
      greeting: 'Hi',
      llm: { provider: 'openai', model: 'gpt-4o-mini', apiKey: OPENAI_KEY, headers: { 'x-org': 'org-visible-but-masked-1234' } },
      tts: { provider: 'elevenlabs', apiKey: ELEVEN_KEY, voiceId: 'voice123' },
      tools: [
        { type: 'search_knowledge' },
        { type: 'http', name: 'lookup', description: 'Look up', url: 'https://api.example.com/lookup', secret: TOOL_SECRET, headers: { authorization: BEARER } },
      ],
    },
  });
}

describe('redactTenant', () => {
  test('masks every credential, keeping the last 4 characters of long ones', () => {
    const r = redactTenant(tenant());
    const text = JSON.stringify(r);
    for (const secret of [TWILIO_TOKEN, WEBHOOK_SECRET, TOOL_SECRET, OPENAI_KEY, ELEVEN_KEY, BEARER, 'hunter2', 'org-visible-but-masked']) {
      assert.ok(!text.includes(secret), `${secret} leaked`);
    }
    assert.equal(r.twilio?.authToken, `${REDACTED}abcd`);
    assert.equal(r.webhooks[0]?.secret, `${REDACTED}wxyz`);
    assert.equal(r.webhooks[0]?.url, `https://user:${REDACTED}@hooks.example.com/parley`);
    const agent = r.agents.default;
    assert.equal(agent?.llm[0]?.apiKey, `${REDACTED}OPEN`);
    assert.equal(agent?.tts[0]?.apiKey, `${REDACTED}ELEV`);
    const tool = agent?.tools[1];
    assert.ok(tool?.type === 'http');
    assert.equal(tool.secret, `${REDACTED}tool`);
    assert.equal(tool.headers?.authorization, `${REDACTED}3456`);
  });

  test('leaves everything else as it was and does not touch the configuration calls use', () => {
    const original = tenant();
    const before = structuredClone(original);
    const r = redactTenant(original);
    assert.deepEqual(original, before);
    assert.equal(r.twilio?.accountSid, original.twilio?.accountSid);
    assert.equal(r.agents.default?.llm[0]?.model, 'gpt-4o-mini');
    assert.equal(r.agents.default?.tts[0]?.voiceId, 'voice123');
    assert.equal(r.agents.default?.greeting, 'Hi');
    assert.deepEqual(r.phoneNumbers, original.phoneNumbers);
    assert.equal(r.agents.default?.tools[1]?.type === 'http' && r.agents.default.tools[1].url, 'https://api.example.com/lookup');
  });

  test('short secrets show nothing of themselves', () => {
    assert.equal(maskSecret('abc'), REDACTED);
    assert.equal(maskSecret('0123456789abcdef'), `${REDACTED}cdef`);
  });
});
