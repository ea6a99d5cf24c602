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

/** TwiML that ends the call at once (an outbound call Parley no longer expects). */
export function hangupTwiml(): string {
  const r = new twilio.twiml.VoiceResponse();
  r.hangup();
  return r.toString();
}

/** TwiML that says `message` and then continues (a warm-transfer whisper: the bridge follows). */
export function sayTwiml(message: string): string {
  const r = new twilio.twiml.VoiceResponse();
  r.say(message);
  return r.toString();
}

/** An empty TwiML document: acknowledges a webhook whose answer Twilio ignores, or runs nothing. */
export function emptyTwiml(): string {
  return new twilio.twiml.VoiceResponse().toString();
}
