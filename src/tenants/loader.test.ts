import YAML from 'yaml';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateProviders } from '../providers/registry.js';
import { loadTenantsDir, parseTenantDocument, TenantConfigError } from './loader.js';

const minimal = (over: string = ''): string => `
id: clinic
name: Clinic
phoneNumbers: ["+15550100100"]
agent:
  greeting: Hello
  flow:
    start: main
    states:
      main:
        intents:
          - { name: bye, keywords: [bye], reply: Bye, action: { type: end_call } }
${over}`;

async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-tenants-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

test('a minimal tenant gets the embedded providers and default endpointing', () => {
  const t = parseTenantDocument('clinic.yaml', minimal(), {});
  assert.deepEqual(
    [t.agents.default!.stt[0]?.provider, t.agents.default!.llm[0]?.provider, t.agents.default!.tts[0]?.provider],
    ['pocketsphinx', 'flow', 'espeak'],
  );
  assert.equal(t.agents.default!.endpointing.silenceMs, 600);
  assert.equal(t.agents.default!.endpointing.bargeInMs, 150);
});

test('an invalid file fails with the file and the field named', async () => {
  const bad = minimal().replace('"+15550100100"', '"555-0100"');
  assert.throws(() => parseTenantDocument('tenants/clinic.yaml', bad, {}), (e: unknown) => {
    assert.ok(e instanceof TenantConfigError);
    assert.match(e.message, /^tenants\/clinic\.yaml: phoneNumbers\.0: must be an E\.164 number/);
    return true;
  });
  assert.throws(() => parseTenantDocument('x.yaml', minimal().replace('start: main', 'start: nowhere'), {}), /x\.yaml: agent\.flow\.start: unknown state "nowhere"/);
  assert.throws(() => parseTenantDocument('x.yaml', 'id: [unclosed', {}), /x\.yaml: not valid YAML/);
  assert.throws(() => parseTenantDocument('x.json', '{"id": ', {}), /x\.json: not valid JSON/);
  assert.throws(() => parseTenantDocument('x.yaml', minimal().replace(/  flow:[\s\S]*/, ''), {}), /x\.yaml: agent\.flow: required when agent\.llm uses the flow provider/);
});

test('${VAR} references are expanded from the environment, and an unset one is an error', () => {
  const text = minimal('twilio:\n  authToken: ${TWILIO_TOKEN}\n');
  assert.equal(parseTenantDocument('x.yaml', text, { TWILIO_TOKEN: 's3cret' }).twilio?.authToken, 's3cret');
  assert.throws(() => parseTenantDocument('x.yaml', text, {}), /x\.yaml: twilio\.authToken: environment variable TWILIO_TOKEN is not set/);
});

test('provider options are checked per provider, naming the field', () => {
  const withTts = (tts: string) => parseTenantDocument('x.yaml', minimal().replace('  greeting: Hello', `  greeting: Hello\n  tts: ${tts}`), {});
  assert.doesNotThrow(() => validateProviders(withTts('{ provider: espeak, voice: en-gb, wordsPerMinute: 150 }').agents.default!));
  assert.throws(() => validateProviders(withTts('{ provider: espek }').agents.default!), /agent\.tts\[0\]\.provider: unknown provider "espek" \(known: espeak, elevenlabs, openai, azure\)/);
  assert.throws(() => validateProviders(withTts('{ provider: espeak, wordsPerMinute: 2000 }').agents.default!), /agent\.tts\[0\]\.wordsPerMinute:/);
  assert.throws(() => validateProviders(withTts('{ provider: espeak, speed: 2 }').agents.default!), /agent\.tts\[0\]\./);
});

test('a directory loads every tenant file and refuses two tenants claiming one number', async () => {
  const ok = await dirWith({ 'a.yaml': minimal(), 'b.json': JSON.stringify({ ...YAML.parse(minimal()), id: 'other', phoneNumbers: ['+15550100101'] }), 'notes.txt': 'ignored' });
  assert.deepEqual((await loadTenantsDir(ok, {})).map((t) => t.id), ['clinic', 'other']);
  const clash = await dirWith({ 'a.yaml': minimal(), 'b.yaml': minimal().replace('id: clinic', 'id: clinic-two') });
  await assert.rejects(loadTenantsDir(clash, {}), /b\.yaml: phoneNumbers\.0: \+15550100100 is already routed by .*a\.yaml/);
  await assert.rejects(loadTenantsDir('/nonexistent-parley-dir', {}), /cannot read tenants directory/);
});

test('the demo hotel tenant is valid', async () => {
  const tenants = await loadTenantsDir(new URL('../../tenants', import.meta.url).pathname, {});
  assert.deepEqual(tenants[0]?.phoneNumbers[0], { number: '+15550100000', agentId: 'default' });
  for (const t of tenants) for (const a of Object.values(t.agents)) validateProviders(a);
});
