import { z } from 'zod';

// The contract between the rule engine (gateway/rules) and the alert lifecycle (gateway/alerts): a rule
// raises or clears an alert for (home, rule, subject); the lifecycle dedupes, persists, escalates and
// delivers. No personal data anywhere in it: ids are opaque, titles are generic ("Dose not taken").

/** Rule ids: the same names the simulators' expected-alert transcripts use (simulators/transcript.ts). */
export const RULE_IDS = [
  'missed-dose',
  'dispenser-fault',
  'door-left-open',
  'door-night',
  'door-forced',
  /** Unlocked with no planned visit (only for homes with a visit plan). */
  'door-unplanned',
  'failed-attempts',
  'bed-exit-night',
  'fall',
  'panic',
  'smoke',
  'water-leak',
  'inactivity',
  'temperature',
  'vitals',
  'device-silent',
  'low-battery',
  'gateway-health',
  'rule-failure',
] as const;
export const RuleIdSchema = z.enum(RULE_IDS);
export type RuleId = z.infer<typeof RuleIdSchema>;

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export const SeveritySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof SeveritySchema>;

/** What an alert is about, for the nurse: care (a patient may need someone) or technical (equipment). */
export const AlertKindSchema = z.enum(['care', 'technical']);

export const EvidenceSchema = z.object({
  eventId: z.string().optional(),
  deviceId: z.string().optional(),
  /** ISO time the device observed it. */
  observedAt: z.string().optional(),
  /** Short, generic, no personal data: "dispensed 08:01, not taken by 09:30". */
  note: z.string().max(200).optional(),
});
export type Evidence = z.infer<typeof EvidenceSchema>;

export const AlertSignalSchema = z.object({
  action: z.enum(['raise', 'clear']),
  rule: RuleIdSchema,
  /** Registry home id; `null` only for gateway-wide technical alerts (rule `gateway-health`). */
  homeId: z.string().nullable(),
  /** What in the home: a dose (`2026-03-10T08:00`), a device id, `door`, `bed`… One open alert per (home, rule, subject). */
  subject: z.string().min(1),
  severity: SeveritySchema,
  kind: AlertKindSchema,
  /** Short generic title shown to nurses ("Dose not taken", "Door open at night"). */
  title: z.string().min(1).max(120),
  /** Epoch ms, the injected clock's time when the rule decided. */
  at: z.number().int(),
  evidence: z.array(EvidenceSchema).default([]),
});
export type AlertSignal = z.infer<typeof AlertSignalSchema>;
