/**
 * send_dtmf: plays key-press tones to the other side, for agents that call phone menus
 * ("press 2 for billing"). `w` is a half-second pause between keys.
 */
import type { AgentTool } from './types.js';

export const DTMF_DIGITS_PATTERN = '^[0-9*#A-Dw]{1,32}$';
const DIGITS = new RegExp(DTMF_DIGITS_PATTERN);

export function createSendDtmfTool(): AgentTool {
  return {
    spec: {
      name: 'send_dtmf',
      description:
        'Press keys on the phone keypad (DTMF tones heard by the other side), e.g. to navigate an automated phone menu or enter ' +
        'an extension or account number. Digits 0-9, * and #, A-D; "w" waits half a second. Say nothing while pressing.',
      parameters: {
        type: 'object',
        properties: { digits: { type: 'string', pattern: DTMF_DIGITS_PATTERN, description: 'The keys to press in order, e.g. "2", "1234#", "1w2".' } },
        required: ['digits'],
        additionalProperties: false,
      },
    },
    async run(args, ctx) {
      const digits = args['digits'];
      if (typeof digits !== 'string' || !DIGITS.test(digits)) return { ok: false, error: 'digits must be 1 to 32 of 0-9 * # A-D and w' };
      await ctx.call.sendDtmf(digits);
      return { ok: true, data: { pressed: digits } };
    },
  };
}
