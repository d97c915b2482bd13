import type { AnyRule } from './contract.js';
import { doorLeftOpenRule } from './door-left-open.js';
import { doorNightRule } from './door-night.js';
import { fallRule } from './fall.js';
import { missedDoseRule } from './missed-dose.js';

// The explicit list of rules the gateway runs (no folder scan): adding a rule = a file + a line here; the
// conventions test (test/gateway/rules/conventions.test.ts) walks this list.
export const RULES: readonly AnyRule[] = [missedDoseRule, fallRule, doorLeftOpenRule, doorNightRule];
