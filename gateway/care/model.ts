import { z } from 'zod';

// The care data the rules read for a home (contract between gateway/care, which stores and edits it, and
// gateway/rules, which only reads it through CareLookup). Local times are `HH:MM` in the home's time zone;
// weekdays are ISO (1 = Monday … 7 = Sunday). Defaults are sensible for Norwegian home care and are filled in
// by gateway/care, so a rule always gets a complete plan.

export const LocalTimeSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a local time HH:MM' });
export const WeekdaySchema = z.int().min(1).max(7);

export const DoseScheduleEntrySchema = z.object({
  /** The dose's local time, and the label dispensers use for it when they use one (`08:00`). */
  time: LocalTimeSchema,
  /** Minutes after `time` within which "taken" is expected. */
  windowMinutes: z
    .int()
    .min(1)
    .max(24 * 60),
  /** Extra minutes after the window before the alert is raised. */
  graceMinutes: z
    .int()
    .min(0)
    .max(24 * 60),
  weekdays: z.array(WeekdaySchema).min(1),
});
export type DoseScheduleEntry = z.infer<typeof DoseScheduleEntrySchema>;

export const NightWindowSchema = z.object({ from: LocalTimeSchema, to: LocalTimeSchema });
export type NightWindow = z.infer<typeof NightWindowSchema>;

export const PlannedVisitSchema = z.object({
  /** ISO instants. */
  from: z.iso.datetime(),
  to: z.iso.datetime(),
});
export type PlannedVisit = z.infer<typeof PlannedVisitSchema>;

export const CarePlanSchema = z.object({
  homeId: z.string(),
  teamId: z.string(),
  timeZone: z.string(),
  doses: z.array(DoseScheduleEntrySchema),
  night: NightWindowSchema,
  /** Empty = no visit plan for this home (the "unlocked with no planned visit" rule stays silent). */
  visits: z.array(PlannedVisitSchema),
  /** Per-rule parameter overrides (rule id → parameters), validated by each rule against its own schema. */
  overrides: z.record(z.string(), z.record(z.string(), z.unknown())),
});
export type CarePlan = z.infer<typeof CarePlanSchema>;

/** What the rules may ask: the complete plan of a home (defaults filled in), or undefined for an unknown home. */
export interface CareLookup {
  planFor(homeId: string): CarePlan | undefined;
}
