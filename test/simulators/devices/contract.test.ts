import { describe, expect, it } from 'vitest';
import { INCIDENT_TYPES } from '../../../simulators/types.js';
import { mismatches, run } from './harness.js';
import { DATE, FLEET, incident } from './fleet.js';

// THE contract check: every device model × every format it speaks, a whole simulated day — normal, and with
// each incident type — and every publish decoded by the REAL adapter. Each must decode, and decode to what
// the simulator meant.

const scenarios = [undefined, ...INCIDENT_TYPES] as const;

describe.each(FLEET.map((spec) => [`${spec.kind} ${spec.format}`, spec] as const))('%s', (_name, spec) => {
  it.each(scenarios.map((type) => [type ?? 'normal day', type] as const))('%s: every publish decodes to what was meant', (_n, type) => {
    const { trace, decoded } = run(spec, DATE, type === undefined ? [] : [incident(type, spec)]);
    expect(decoded.length).toBeGreaterThan(spec.format === 'fhir-observation' ? 3 : 10);
    const wrong = decoded.flatMap((d) => mismatches(spec.format, d.traced.events, d.events).map((p) => `${d.traced.action.at}: ${p}`));
    expect(wrong.slice(0, 5)).toEqual([]);
    // Device time never runs ahead of the send time.
    for (const d of decoded)
      for (const e of d.events) if (e.observedAt) expect(Date.parse(e.observedAt)).toBeLessThanOrEqual(d.traced.action.at);
    expect(trace[0]?.action.op).toBe('connect');
  });
});
