import type { AnyRule } from './contract.js';
import { bedExitNightRule } from './bed-exit-night.js';
import { deviceSilentRule } from './device-silent.js';
import { dispenserFaultRule } from './dispenser-fault.js';
import { doorForcedRule } from './door-forced.js';
import { doorLeftOpenRule } from './door-left-open.js';
import { doorNightRule } from './door-night.js';
import { doorUnplannedRule } from './door-unplanned.js';
import { failedAttemptsRule } from './failed-attempts.js';
import { fallRule } from './fall.js';
import { inactivityRule } from './inactivity.js';
import { lowBatteryRule } from './low-battery.js';
import { missedDoseRule } from './missed-dose.js';
import { panicRule } from './panic.js';
import { smokeRule } from './smoke.js';
import { temperatureRule } from './temperature.js';
import { vitalsRule } from './vitals.js';
import { waterLeakRule } from './water-leak.js';

// The explicit list of rules the gateway runs (no folder scan): adding a rule = a file + a line here; the
// conventions test (test/gateway/rules/conventions.test.ts) walks this list.
export const RULES: readonly AnyRule[] = [
  missedDoseRule,
  dispenserFaultRule,
  fallRule,
  panicRule,
  smokeRule,
  waterLeakRule,
  bedExitNightRule,
  doorLeftOpenRule,
  doorNightRule,
  doorForcedRule,
  failedAttemptsRule,
  doorUnplannedRule,
  inactivityRule,
  temperatureRule,
  vitalsRule,
  deviceSilentRule,
  lowBatteryRule,
];
