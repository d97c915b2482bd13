import { describe, expect, it } from 'vitest';
import { RULE_IDS } from '../../../gateway/alerts/signal.js';
import { ALERT_RULES } from '../../../simulators/transcript.js';

// The simulators are black-box (they import nothing from gateway/), so their expected-alert transcripts name
// rules in a list of their own. This keeps the two lists from drifting apart: a transcript naming a rule the
// engine does not have could never pass.

describe('rule names', () => {
  it('every rule a transcript may name is a rule id of the alert contract', () => {
    const known: readonly string[] = RULE_IDS;
    expect(ALERT_RULES.filter((r) => !known.includes(r))).toEqual([]);
  });
});
