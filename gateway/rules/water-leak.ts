import { alarmRule } from './alarm-rule.js';

// Water leak: the sensor's `active` raises a high care alert for that sensor (someone has to shut the water
// off, and a wet floor is a fall risk); its `cleared` clears it. Zigbee2MQTT repeats `water_leak: true` with
// every message while the leak lasts: every `active` until a `cleared` is the same alarm (`standing`).
export const waterLeakRule = alarmRule({
  id: 'water-leak',
  alarmKind: 'water_leak',
  severity: 'high',
  mode: 'standing',
  titles: { raise: 'Water leak detected', clear: 'Water leak cleared' },
});
