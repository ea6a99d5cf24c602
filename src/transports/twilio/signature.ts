import twilio from 'twilio';

/**
 * X-Twilio-Signature checking, delegated to Twilio's own helper library so that its URL variants
 * (with and without default ports, re-serialised query strings) match exactly what Twilio signs.
 * Twilio signs the URL it requested, which is PARLEY_PUBLIC_URL + path (+ query), not the local URL.
 */
export function isValidTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, string | string[]>,
): boolean {
  if (!signature) return false;
  return twilio.validateRequest(authToken, signature, url, params);
}

/** Computes the signature Twilio would send (used by the simulated caller). */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}
