// The shapes of the homes, devices, dead-letter, series and report routes (gateway/http/*-routes.ts: their zod
// response schemas are the contract, served at /docs). Written out here rather than imported: those modules
// pull in Node and fastify types the browser build must not see.

import type { Severity } from './types.js';

export type DeviceKind = 'dispenser' | 'lock' | 'sensor' | 'vitals' | 'bridge' | 'observer';

/** `DeviceHealthSchema` (gateway/http/health-view.ts). */
export interface DeviceHealth {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly model: string;
  readonly adapterId: string;
  readonly enabled: boolean;
  readonly homeId: string | null;
  readonly teamId: string | null;
  /** null: nothing heard since the gateway started (not the same as offline). */
  readonly online: boolean | null;
  readonly statusAt: string | null;
  readonly lastSeenAt: string | null;
  readonly batteryPct: number | null;
  readonly lowBattery: boolean;
  readonly silent: boolean;
  readonly firmware: string | null;
  readonly secretRotatedAt: string | null;
}

export type SeverityCounts = Readonly<Record<Severity, number>> & { readonly total: number };

export interface HomeSummary {
  readonly id: string;
  readonly teamId: string;
  readonly timeZone: string;
  readonly openAlerts: SeverityCounts;
  readonly devices: {
    readonly total: number;
    readonly online: number;
    readonly offline: number;
    readonly unknown: number;
    readonly lowBattery: number;
    readonly silent: number;
  };
  readonly lastEventAt: string | null;
}

export type EventType = 'dose' | 'lock' | 'alarm';

export interface HomeEvent {
  readonly at: string;
  readonly deviceId: string;
  readonly type: EventType;
  readonly kind: string;
  readonly slot: string | null;
  readonly method: string | null;
  readonly active: boolean | null;
}

export const DOSE_STATUSES = ['taken', 'missed', 'unknown', 'pending'] as const;
export type DoseStatus = (typeof DOSE_STATUSES)[number];

/** `DoseLogEntrySchema` (gateway/care/dose-log.ts). */
export interface DoseLogEntry {
  readonly dose: string;
  readonly scheduledAt: string;
  readonly deadlineAt: string;
  readonly status: DoseStatus;
  readonly takenAt: string | null;
  readonly alertId: string | null;
  readonly basis: 'dose_report' | 'alert' | 'alert_cleared' | 'before_deadline' | 'no_record';
}

export type SourceState = 'ok' | 'not_configured' | 'unavailable';

export interface HomeDetail {
  readonly home: HomeSummary;
  readonly devices: readonly DeviceHealth[];
  readonly recentEvents: readonly HomeEvent[];
  readonly doseLog: { readonly days: number; readonly from: string; readonly doses: readonly DoseLogEntry[] };
  readonly sources: { readonly influx: SourceState };
}

export type ChartMeasurement = 'sensor' | 'vitals' | 'device_status';

export interface Series {
  readonly homeId: string;
  readonly measurement: ChartMeasurement;
  readonly field: string;
  readonly from: string;
  readonly to: string;
  readonly bucketMs: number;
  readonly series: readonly {
    readonly deviceId: string;
    readonly points: readonly { readonly t: string; readonly mean: number; readonly max: number }[];
  }[];
}

export const DEVICE_FILTERS = ['offline', 'low_battery', 'silent'] as const;
export type DeviceFilter = (typeof DEVICE_FILTERS)[number];

export const DEAD_LETTER_REASONS = [
  'unknown_device',
  'no_adapter',
  'unknown_child',
  'oversized',
  'malformed',
  'invalid_payload',
  'unsupported',
  'adapter_bug',
  'storage_rejected',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface DeadLetter {
  readonly id: number;
  readonly receivedAt: string;
  readonly deviceId: string;
  readonly principalKind: string;
  readonly subtopic: string;
  readonly reason: string;
  readonly adapterId: string | null;
  readonly adapterVersion: number | null;
  readonly payloadBytes: number;
  readonly truncated: boolean;
  readonly replayedAt: string | null;
  readonly homeId: string | null;
  readonly teamId: string | null;
}

/** `DeadLetterPageSchema`: `next` is not null while older dead letters may match (ask again with `before=next`). */
export interface DeadLetterPage {
  readonly deadLetters: readonly DeadLetter[];
  readonly next: number | null;
}

export interface DeadLetterDetail extends DeadLetter {
  readonly issues: readonly { readonly path: readonly (string | number)[]; readonly code: string; readonly message: string }[];
  readonly payload: { readonly encoding: 'utf8' | 'base64'; readonly data: string; readonly shownBytes: number };
}

export interface AdapterInfo {
  readonly id: string;
  readonly version: number;
  readonly title: string;
  readonly deviceClasses: readonly string[];
}

export interface Team {
  readonly id: string;
  readonly homes: readonly string[];
}

/** `TeamFollowUpSchema` (gateway/alerts/report.ts). */
export interface TeamFollowUp {
  readonly teamId: string;
  readonly count: number;
  readonly acknowledgedOnTime: number;
  readonly acknowledgedLate: number;
  readonly acknowledgedNever: number;
  readonly acknowledgePending: number;
  readonly resolvedOnTime: number;
  readonly resolvedLate: number;
  readonly resolvedNever: number;
  readonly resolvePending: number;
}

export interface FollowUpReport {
  readonly from: string;
  readonly to: string;
  readonly generatedAt: string;
  readonly teams: readonly TeamFollowUp[];
}
