import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NumberRoute } from '../../tenants/directory.js';
import { isValidTwilioSignature } from './signature.js';
import type { StreamTokens } from './stream-token.js';
import { connectStreamTwiml, sayAndHangupTwiml } from './twiml.js';

/** Heard by callers who dial a number no tenant owns. */
export const UNKNOWN_NUMBER_MESSAGE = 'Sorry, this number is not in service. Goodbye.';
export const TWILIO_STREAM_PATH = '/twilio/stream';
/** Name of the <Parameter> carrying the stream token; arrives in start.customParameters. */
export const STREAM_TOKEN_PARAMETER = 'parleyToken';

export interface TwilioWebhookDeps {
  readonly routeNumber: (number: string) => NumberRoute | undefined;
  readonly streamTokens: StreamTokens;
  /** PARLEY_PUBLIC_URL, e.g. https://parley.example.com. */
  readonly publicUrl?: string;
}

type FormParams = Record<string, string>;

/** The URL Twilio requested, which is what it signed. */
function publicRequestUrl(req: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return `${publicUrl}${req.url}`;
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0] ?? 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}${req.url}`;
}

function streamUrl(req: FastifyRequest, publicUrl: string | undefined): string {
  const base = publicRequestUrl(req, publicUrl).replace(/^http/, 'ws');
  return new URL(TWILIO_STREAM_PATH, base).toString();
}

/**
 * POST /twilio/voice — Twilio's incoming-call webhook. Routes by the dialled number (`To`) to a
 * tenant, verifies X-Twilio-Signature when the tenant has an auth token, and answers with TwiML
 * that connects the call to Parley's bidirectional media stream.
 */
export function registerTwilioWebhooks(app: FastifyInstance, deps: TwilioWebhookDeps): void {
  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      const params: FormParams = {};
      for (const [k, v] of new URLSearchParams(body as string)) params[k] = v;
      done(null, params);
    });

    scope.post('/twilio/voice', async (req, reply) => {
      const params = (req.body ?? {}) as FormParams;
      const to = params.To ?? '';
      const callSid = params.CallSid ?? '';
      reply.type('text/xml');
      const route = deps.routeNumber(to);
      if (!route) {
        req.log.warn({ to, callSid }, 'incoming call for a number no tenant owns');
        return sayAndHangupTwiml(UNKNOWN_NUMBER_MESSAGE);
      }
      const { tenant, agentId } = route;
      const authToken = tenant.twilio?.authToken;
      if (authToken) {
        const signature = req.headers['x-twilio-signature'] as string | undefined;
        if (!isValidTwilioSignature(authToken, signature, publicRequestUrl(req, deps.publicUrl), params)) {
          req.log.warn({ tenantId: tenant.id, callSid }, 'rejected Twilio webhook with a missing or invalid signature');
          return reply.code(403).type('application/json').send({ error: { code: 'invalid_signature', message: 'X-Twilio-Signature is missing or invalid' } });
        }
      }
      if (!/^CA[0-9a-zA-Z]{10,64}$/.test(callSid)) {
        return reply.code(400).type('application/json').send({ error: { code: 'validation_failed', message: 'CallSid is missing or malformed' } });
      }
      const token = deps.streamTokens.issue({ callSid, tenantId: tenant.id, agentId, from: params.From ?? '', to });
      req.log.info({ tenantId: tenant.id, callSid }, 'incoming call accepted');
      return connectStreamTwiml(streamUrl(req, deps.publicUrl), { [STREAM_TOKEN_PARAMETER]: token });
    });
  });
}
