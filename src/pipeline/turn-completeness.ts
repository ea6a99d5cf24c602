/**
 * Does what the caller has said so far sound finished? A cheap, conservative reading of the
 * transcript (partial or final) that endpointing uses to wait longer through a mid-sentence pause
 * ("my number is … four five six") and to answer sooner after a clearly complete turn ("no thanks,
 * goodbye", "what time is breakfast"). Anything it is not sure about is `unknown` and gets the agent's
 * normal silence.
 */
export type Completeness = 'complete' | 'incomplete' | 'unknown';

/** Words a sentence does not end on: the caller is mid-thought. */
const DANGLING = new Set(
  ('and or but so because cause the a an to of for with from at in on into about my your our their his her is are was were be ' +
    'am i im its that which who if then than um uh er erm like plus also just number').split(' '),
);

/** Whole utterances that are a complete answer or a closing. */
const COMPLETE_UTTERANCES = new Set(
  ('yes|no|yeah|yep|nope|sure|okay|ok|correct|right|exactly|that is right|that is correct|thats right|thats correct|' +
    'no thanks|no thank you|thank you|thanks|thanks a lot|thank you very much|goodbye|good bye|bye|bye bye|' +
    'that is all|thats all|that is it|thats it|nothing else|that will be all|have a good day|have a nice day').split('|'),
);

/** Closings that end a turn even after other words ("…, thank you, goodbye"). */
const CLOSING_SUFFIX = /\b(good ?bye|bye|thank you|thanks|that'?s all|that is all|that'?s it|that is it|have a (good|nice|great) (day|one|evening))$/;

/** Words a question opens with (wh-words and the auxiliaries of yes/no questions). */
const QUESTION_OPENERS = new Set(
  'what whats when where wheres who whos why how hows which do does did is are was were can could would will should shall may have has'.split(' '),
);

/**
 * Last words that leave a question waiting for more ("do you have …", "can you tell me …", "is there
 * any …"): such a question is not called complete, whatever it opened with. Conservative on purpose:
 * "can you help me" waits the normal silence too.
 */
const OPEN_QUESTION_ENDINGS = new Set(
  ('have has had get got tell give show send find know want need like book make take bring let see ' +
    'do does did can could would will should me us you any some more much many another other').split(' '),
);

/** Fewest words of a question called complete ("is breakfast included", not "what time"). */
const MIN_QUESTION_WORDS = 3;

const DIGIT_WORDS = new Set('zero oh one two three four five six seven eight nine'.split(' '));

/** Digits spoken so far in a trailing run of digit words or numerals. */
function trailingDigits(words: readonly string[]): number {
  let n = 0;
  for (let i = words.length - 1; i >= 0; i--) {
    const w = words[i] as string;
    if (DIGIT_WORDS.has(w)) n += 1;
    else if (/^\d+$/.test(w)) n += w.length;
    else if (w === 'double' || w === 'triple') continue;
    else break;
  }
  return n;
}

function normalise(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[’']/g, '')
    .replace(/[^a-z0-9\s-]/g, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

export function classifyCompleteness(text: string): Completeness {
  const words = normalise(text);
  if (words.length === 0) return 'unknown';
  const joined = words.join(' ');
  if (COMPLETE_UTTERANCES.has(joined)) return 'complete';
  const last = words[words.length - 1] as string;
  // A number being read out: incomplete until it is long enough to be a phone number.
  const digits = trailingDigits(words);
  const aboutNumber = /\b(number|phone|digits|code|zip|postcode|account|card|pin)\b/.test(joined);
  if (digits > 0 && aboutNumber) return digits >= 10 ? 'complete' : 'incomplete';
  if (DANGLING.has(last)) return 'incomplete';
  if (CLOSING_SUFFIX.test(joined)) return 'complete';
  // A question with its object said ("what time is breakfast", "do you have parking"): the caller is
  // waiting for the answer. Should they go on after all, the reply is still being thought and is
  // dropped, and both parts are answered as one turn.
  if (words.length >= MIN_QUESTION_WORDS && QUESTION_OPENERS.has(words[0] as string) && !OPEN_QUESTION_ENDINGS.has(last)) return 'complete';
  return 'unknown';
}
