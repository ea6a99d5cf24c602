import { writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeWav } from '../audio/wav.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { startServer } from '../server/server.js';
import { type ApiCallDetail, formatConversation } from './print-call.js';
import { loadScenario } from './scenario.js';
import { formatReport, runScenario, type ScenarioReport } from './simulate.js';
import { type CallStep, placeSimulatedCall } from './simulated-caller.js';

const USAGE = `parley — self-hosted voice AI agents

Usage:
  parley serve [--port N] [--tenants DIR] [--data DIR]
  parley call [--url URL | --tenants DIR] --to NUMBER [--say TEXT]... [--wav FILE]... [--interrupt TEXT]...
              [--from NUMBER] [--json] [--out FILE.wav] [--admin-key KEY] [--auth-token TOKEN] [--public-url URL]
  parley simulate FILE.yaml... [--url URL | --tenants DIR] [--calls N] [--repeat N] [--json] [--verbose]
              [--admin-key KEY] [--auth-token TOKEN] [--public-url URL]

serve   Starts the server: Twilio webhooks (/twilio/voice), media streams (/twilio/stream), API (/v1), /metrics.
call    Places a simulated phone call over the real Twilio HTTP + WebSocket path. Without --url it starts
        a server in-process (tenants from --tenants, a temporary data dir). Steps run in the order given:
          --say TEXT         say TEXT (flite rms voice) after the agent finishes talking
          --wav FILE         play FILE the same way
          --interrupt TEXT   say TEXT while the agent is answering the previous step (barge-in)
        Prints the conversation and each turn's latency; --json prints a machine-readable result.
simulate
        Runs scenario files (docs/simulate.md): scripted callers — utterances, pauses, barge-ins, keys,
        line noise, speakerphone echo — N at once, over the same real path. Reports answers, cut-offs,
        false interruptions and latency percentiles (server-side figures with --admin-key, or without
        --url); exits 1 when a scenario's expect assertions fail. --calls/--repeat override the file.

Environment: PORT, PARLEY_PUBLIC_URL, PARLEY_TENANTS_DIR, PARLEY_DATA_DIR, PARLEY_ADMIN_KEY, PARLEY_LOG_LEVEL
(see README.md).`;

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, tenants: { type: 'string' }, data: { type: 'string' } } });
  const overrides: Record<string, unknown> = {};
  if (values.port) overrides.port = Number.parseInt(values.port, 10);
  if (values.tenants) overrides.tenantsDir = values.tenants;
  if (values.data) overrides.dataDir = values.data;
  const config = loadConfig(process.env, overrides);
  const server = await startServer({ config });
  // One call's bug must not end every call: log stray rejections instead of crashing.
  process.on('unhandledRejection', (reason) => server.app.log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection'));
  const stop = async (signal: string): Promise<void> => {
    server.app.log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/** Steps in command-line order: --say/--wav/--interrupt may be interleaved. */
function stepsFromArgv(argv: string[]): CallStep[] {
  const steps: CallStep[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) continue;
    if (flag === '--say') steps.push({ say: value });
    else if (flag === '--wav') steps.push({ wav: value });
    else if (flag === '--interrupt') steps.push({ say: value, bargeInAfterMs: 800 });
  }
  return steps;
}

async function fetchCall(baseUrl: string, adminKey: string, callSid: string): Promise<ApiCallDetail | undefined> {
  // The record is written as the call goes; wait for the end to land.
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${baseUrl}/v1/calls/${callSid}`, { headers: { authorization: `Bearer ${adminKey}` } });
    if (res.ok) {
      const call = (await res.json()) as ApiCallDetail;
      if (call.status !== 'in_progress') return call;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

async function call(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      tenants: { type: 'string' },
      to: { type: 'string' },
      from: { type: 'string' },
      say: { type: 'string', multiple: true },
      wav: { type: 'string', multiple: true },
      interrupt: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      'admin-key': { type: 'string' },
      'auth-token': { type: 'string' },
      'public-url': { type: 'string' },
    },
  });
  if (!values.to) throw new Error('call: --to NUMBER is required (the number the tenant answers, e.g. +15550100000)');
  const steps = stepsFromArgv(argv);
  const env = loadConfig(process.env);
  let adminKey = values['admin-key'] ?? env.adminKey;
  let baseUrl = values.url?.replace(/\/+$/, '');
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  if (!baseUrl) {
    adminKey ??= 'local-simulation-key';
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-call-'));
    const config = loadConfig(process.env, { port: 0, host: '127.0.0.1', dataDir, adminKey, tenantsDir: values.tenants ?? env.tenantsDir });
    server = await startServer({ config, logger: createLogger({ level: process.env.PARLEY_LOG_LEVEL ?? 'warn' }) });
    baseUrl = server.url;
  }
  try {
    const result = await placeSimulatedCall({
      baseUrl,
      to: values.to,
      from: values.from,
      steps,
      authToken: values['auth-token'],
      publicUrl: values['public-url'],
      onLog: values.json ? undefined : (line) => console.log(line),
    });
    if (values.out) await writeFile(values.out, encodeWav({ sampleRateHz: 8000, channels: [result.heard] }));
    const record = adminKey ? await fetchCall(baseUrl, adminKey, result.callSid) : undefined;
    if (values.json) {
      const { heard: _heard, ...rest } = result;
      console.log(JSON.stringify({ ...rest, heardMs: Math.round(result.heard.length / 8), call: record ?? null }, null, 2));
    } else {
      console.log('');
      if (record) console.log(formatConversation(record));
      else console.log('(set PARLEY_ADMIN_KEY or --admin-key to print the stored call record)');
      if (values.out) console.log(`\nwhat the caller heard: ${values.out}`);
    }
  } finally {
    await server?.close();
  }
}

async function simulate(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      tenants: { type: 'string' },
      calls: { type: 'string' },
      repeat: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'admin-key': { type: 'string' },
      'auth-token': { type: 'string' },
      'public-url': { type: 'string' },
    },
  });
  if (positionals.length === 0) throw new Error('simulate: give at least one scenario file, e.g. parley simulate scenarios/booking.yaml');
  const positive = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`simulate: --${flag} must be a whole number ≥ 1, not "${v}"`);
    return n;
  };
  const calls = positive('calls', values.calls);
  const repeat = positive('repeat', values.repeat);
  // Every file is checked before any call is placed.
  const scenarios = await Promise.all(positionals.map((f) => loadScenario(f)));
  const env = loadConfig(process.env);
  let adminKey = values['admin-key'] ?? env.adminKey;
  let baseUrl = values.url?.replace(/\/+$/, '');
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  if (!baseUrl) {
    adminKey ??= 'local-simulation-key';
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-simulate-'));
    const concurrent = Math.max(...scenarios.map((s) => calls ?? s.calls));
    const config = loadConfig(process.env, {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      adminKey,
      tenantsDir: values.tenants ?? env.tenantsDir,
      // One warm recogniser per concurrent call, as a deployment sized for the load would have.
      sttWarmDecoders: Math.max(env.sttWarmDecoders, Math.min(concurrent, 32)),
    });
    server = await startServer({ config, logger: createLogger({ level: process.env.PARLEY_LOG_LEVEL ?? 'error' }) });
    baseUrl = server.url;
  }
  // Progress goes to stderr with --json so stdout stays one JSON document.
  const say = values.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const reports: ScenarioReport[] = [];
  try {
    for (const scenario of scenarios) {
      const total = (calls ?? scenario.calls) * (repeat ?? scenario.repeat);
      if (!values.json) say(`running ${scenario.name}: ${total} call${total === 1 ? '' : 's'} to ${scenario.to}`);
      const report = await runScenario(scenario, {
        baseUrl,
        adminKey,
        calls,
        repeat,
        authToken: values['auth-token'],
        publicUrl: values['public-url'],
        onProgress: say,
        // One call's conversation is worth reading as it goes; many interleave, so only on request.
        onCallLog: values.verbose || (total === 1 && !values.json) ? say : undefined,
      });
      reports.push(report);
      if (!values.json) say(`\n${formatReport(report)}\n`);
    }
  } finally {
    await server?.close();
  }
  const passed = reports.every((r) => r.passed);
  if (values.json) console.log(JSON.stringify({ passed, scenarios: reports }, null, 2));
  else if (reports.length > 1) console.log(`${passed ? 'PASS' : 'FAIL'}: ${reports.filter((r) => r.passed).length} of ${reports.length} scenarios passed`);
  if (!passed) process.exitCode = 1;
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'call':
      return call(rest);
    case 'simulate':
      return simulate(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`);
  }
}
