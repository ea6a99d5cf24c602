import twilio from 'twilio';

/** A live-call update that does not answer within this time has failed; the caller is waiting. */
export const TWILIO_REST_TIMEOUT_MS = 5_000;

export interface TwilioCredentials {
  readonly accountSid: string;
  readonly authToken: string;
}

/**
 * The few Twilio REST calls Parley makes on live calls, over fetch so the base URL can point at
 * a loopback fake in tests. Docs: https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource
 */
export class TwilioRestClient {
  constructor(
    private readonly creds: TwilioCredentials,
    private readonly baseUrl = 'https://api.twilio.com',
  ) {}

  /** Replaces the live call's TwiML; Twilio ends the current <Connect><Stream> and runs the new TwiML. */
  async updateCallTwiml(callSid: string, twimlXml: string): Promise<void> {
    const url = `${this.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(this.creds.accountSid)}/Calls/${encodeURIComponent(callSid)}.json`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${this.creds.accountSid}:${this.creds.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ Twiml: twimlXml }).toString(),
      signal: AbortSignal.timeout(TWILIO_REST_TIMEOUT_MS),
    });
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      throw new Error(`Twilio call update failed: HTTP ${res.status} ${body.slice(0, 200)}`);
    }
  }

  /** Cold transfer: dial `to` in place of the agent. */
  transfer(callSid: string, to: string): Promise<void> {
    const r = new twilio.twiml.VoiceResponse();
    r.dial(to);
    return this.updateCallTwiml(callSid, r.toString());
  }
}
