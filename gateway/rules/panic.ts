import { alarmRule } from './alarm-rule.js';

// Panic button: a press raises a critical care alert for that button, at once; the device's `cleared` (some
// pendants send one on release or reset) clears it. Presses within 60 s are one press; a later press raises
// again (the lifecycle counts it on the open alert: the person is still calling).
export const panicRule = alarmRule({
  id: 'panic',
  alarmKind: 'panic',
  severity: 'critical',
  mode: 'one-shot',
  repeatAfterSeconds: 60,
  titles: { raise: 'Panic button pressed', clear: 'Panic alarm reset' },
});
