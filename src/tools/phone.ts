/** An E.164 phone number (+ and 7–15 digits): what SMS and callbacks can be sent to. */
export const E164 = /^\+[1-9]\d{6,14}$/;

export function isE164(number: string): boolean {
  return E164.test(number);
}
