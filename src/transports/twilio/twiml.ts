import twilio from 'twilio';

/** TwiML that connects the call to Parley's bidirectional media stream. */
export function connectStreamTwiml(streamUrl: string, parameters: Record<string, string>): string {
  const r = new twilio.twiml.VoiceResponse();
  const stream = r.connect().stream({ url: streamUrl });
  for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
  return r.toString();
}

/** TwiML that tells the caller something and hangs up (unknown number, over quota, ...). */
export function sayAndHangupTwiml(message: string): string {
  const r = new twilio.twiml.VoiceResponse();
  r.say(message);
  r.hangup();
  return r.toString();
}
