/**
 * Key presses reach agents as one user message, `[keypad] <digits>` (e.g. `[keypad] 1234#`), so an
 * LLM sees them in the transcript and the flow agent can match them exactly. The session collects
 * the digits (terminator, maxDigits, pause) before building the message.
 */

const PREFIX = '[keypad] ';
/** One or more of the 16 DTMF keys. */
const KEYS = /^[0-9*#A-D]+$/;
const MAX_KEYS = 64;

/** The user message for `digits`. Throws RangeError for an empty or non-DTMF string. */
export function keypadMessage(digits: string): string {
  if (!KEYS.test(digits) || digits.length > MAX_KEYS) throw new RangeError(`not keypad digits: ${JSON.stringify(digits)}`);
  return `${PREFIX}${digits}`;
}

/** The digits of a keypad message, or undefined when `text` is not one (e.g. speech). */
export function parseKeypadMessage(text: string): string | undefined {
  const t = text.trim();
  if (!t.startsWith(PREFIX)) return undefined;
  const digits = t.slice(PREFIX.length);
  return KEYS.test(digits) && digits.length <= MAX_KEYS ? digits : undefined;
}
