import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeDateValue } from './slots.js';
import { renderTemplate } from './template.js';

describe('renderTemplate', () => {
  const slots = { nights: 3, start_day: makeDateValue(2026, 11, 27), guest: 'Anna' };

  it('speaks numbers as words and dates in their spoken form', () => {
    assert.equal(
      renderTemplate("You're booked for {{nights}} nights from {{start_day}}.", slots),
      "You're booked for three nights from Friday, November 27th.",
    );
  });

  it('renders a missing value as nothing and tidies the gap', () => {
    assert.equal(renderTemplate('Thanks {{name}}, see you soon.', {}), 'Thanks, see you soon.');
    assert.equal(renderTemplate('{{greeting}} Hello there.', {}), 'Hello there.');
  });

  it('uses the default after a bar when the value is missing, not when present', () => {
    assert.equal(renderTemplate('Thanks {{name|there}}.', {}), 'Thanks there.');
    assert.equal(renderTemplate('Thanks {{ guest | there }}.', slots), 'Thanks Anna.');
  });

  it('reads dotted call variables, flat or nested', () => {
    assert.equal(renderTemplate('Calling from {{caller.number}}.', {}, { 'caller.number': '+15551234567' }), 'Calling from +15551234567.');
    assert.equal(renderTemplate('Calling from {{caller.number}}.', {}, { caller: { number: '+15557654321' } }), 'Calling from +15557654321.');
  });

  it('prefers slots over variables of the same name', () => {
    assert.equal(renderTemplate('{{guest}}', slots, { guest: 'Bob' }), 'Anna');
  });

  it('says booleans as yes/no and leaves text without placeholders unchanged', () => {
    assert.equal(renderTemplate('Breakfast: {{breakfast}}.', { breakfast: true }), 'Breakfast: yes.');
    assert.equal(renderTemplate('Pool opens at 7 a.m.  Sharp.', {}), 'Pool opens at 7 a.m.  Sharp.');
  });
});
