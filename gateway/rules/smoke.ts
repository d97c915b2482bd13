import { alarmRule } from './alarm-rule.js';

// Smoke: the detector's `active` raises a critical care alert for that detector (the patient may not be able
// to leave on their own); its `cleared` clears it. A detector keeps reporting its state, so every `active`
// until a `cleared` is the same alarm (alarm-rule.ts, `standing`).
export const smokeRule = alarmRule({
  id: 'smoke',
  alarmKind: 'smoke',
  severity: 'critical',
  mode: 'standing',
  titles: { raise: 'Smoke detected', clear: 'Smoke alarm cleared' },
});
