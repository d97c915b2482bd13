import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../../adapters/canonical.js';
import { RULE_IDS } from '../../../gateway/alerts/signal.js';
import type { RuleContext, RuleInput } from '../../../gateway/rules/contract.js';
import { RULES } from '../../../gateway/rules/registry.js';
import { prng } from '../../support/prng.js';
import { event, plan } from './support.js';

// The conventions every registered rule follows (STYLE.md: a conventions test walks each registry).
const NOW = Date.parse('2026-03-29T06:00:00Z');

const bodies: EventBody[] = [
  { type: 'dose', kind: 'taken' },
  { type: 'dose', kind: 'missed', slot: 'morning' },
  { type: 'dose', kind: 'dispensed', slot: '25:99' },
  { type: 'dose', kind: 'taken', scheduledAt: '2026-03-29T00:30:00Z' },
  { type: 'dose', kind: 'not_dispensed', scheduledAt: '1970-01-01T00:00:00Z' },
  { type: 'lock', kind: 'opened' },
  { type: 'lock', kind: 'left_open' },
  { type: 'lock', kind: 'unlocked', method: 'keypad' },
  { type: 'lock', kind: 'forced' },
  { type: 'measurement', readings: { contact_open: true } },
  { type: 'measurement', readings: { contact_open: false, temperature_c: -60 } },
  { type: 'alarm', kind: 'fall', state: 'active' },
  { type: 'alarm', kind: 'fall', state: 'cleared' },
  { type: 'alarm', kind: 'bed_exit', state: 'active' },
  { type: 'vitals', readings: { spo2_pct: 0 } },
  { type: 'status', status: { online: false } },
  { type: 'status', status: { online: true, battery_pct: 1 } },
  { type: 'lock', kind: 'failed_attempt', method: 'keypad' },
  { type: 'lock', kind: 'locked', method: 'auto' },
  { type: 'lock', kind: 'unlocked', method: 'rfid', credentialRef: 'tag-0001' },
  { type: 'measurement', readings: { bed_occupied: false } },
  { type: 'measurement', readings: { bed_occupied: true, motion: true, temperature_c: 12 } },
  { type: 'dose', kind: 'jam' },
  { type: 'dose', kind: 'empty' },
  { type: 'dose', kind: 'power_lost' },
  { type: 'dose', kind: 'refill_needed' },
  { type: 'alarm', kind: 'water_leak', state: 'active' },
  { type: 'alarm', kind: 'smoke', state: 'cleared' },
  { type: 'alarm', kind: 'panic', state: 'active' },
  { type: 'alarm', kind: 'bed_exit', state: 'cleared' },
  { type: 'vitals', readings: { heart_rate_bpm: 190, bp_systolic_mmhg: 80 } },
  { type: 'status', status: { battery_low: true, battery_pct: 9 } },
];

function junkInputs(seed: number): RuleInput[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const out: RuleInput[] = [];
  for (let i = 0; i < 200; i++) {
    const at = NOW + Math.floor((r() - 0.5) * 4 * 86_400_000);
    const roll = r();
    if (roll < 0.6)
      out.push({
        type: 'event',
        event: { ...event(pick(['d1', 'd2', '']), pick(bodies), at), observedAt: pick([new Date(at).toISOString(), 'not a date']) },
      });
    else if (roll < 0.8)
      out.push({
        type: 'device-status',
        deviceId: pick(['d1', 'd2']),
        homeId: 'h001',
        kind: pick([undefined, 'dispenser', 'lock'] as const),
        online: r() < 0.5,
        at,
      });
    else
      out.push({
        type: 'timer',
        key: pick(['deadline:2026-03-29T08:00', 'deadline:junk', 'open:0', '', 'deadline:2026-02-30T08:00']),
        at,
        subject: pick(['doses', 'd1']),
      });
  }
  return out;
}

describe.each(RULES.map((r) => [r.id, r] as const))('rule %s', (_id, rule) => {
  const ctx = (now: number): RuleContext<unknown> => ({ now, plan: plan(), params: rule.defaults.parse({}) });

  it('has a known id, a version and defaults that parse', () => {
    expect(RULE_IDS).toContain(rule.id);
    expect(Number.isInteger(rule.version) && rule.version >= 1).toBe(true);
    expect(() => rule.defaults.parse({})).not.toThrow();
    expect(JSON.parse(JSON.stringify(rule.initial()))).toEqual(rule.initial());
  });

  it('never throws on junk input, keeps JSON state, and is deterministic', () => {
    let state = rule.initial();
    for (const input of junkInputs(rule.id.length)) {
      const c = ctx(input.type === 'timer' ? input.at : NOW);
      if (input.type !== 'timer') expect(() => rule.subjects(input, c)).not.toThrow();
      const a = rule.step(state, input, c);
      const b = rule.step(JSON.parse(JSON.stringify(state)) as unknown, input, c);
      expect(b).toEqual(a);
      expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
      state = a.state;
    }
  });

  it('schedules, when it has any, are deterministic and inside the asked range', () => {
    if (rule.schedule === undefined) return;
    const from = NOW;
    const to = NOW + 2 * 86_400_000;
    const a = rule.schedule(ctx(NOW), from, to);
    expect(rule.schedule(ctx(NOW), from, to)).toEqual(a);
    for (const t of a) expect(t.at >= from && t.at < to).toBe(true);
  });
});

it('rule ids are unique in the registry', () => {
  const ids = RULES.map((r) => r.id);
  expect(new Set(ids).size).toBe(ids.length);
});
