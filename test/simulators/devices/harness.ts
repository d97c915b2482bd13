import type { DecodedEvent, EventBody } from '../../../adapters/canonical.js';
import { getAdapter } from '../../../adapters/registry.js';
import { seeded } from '../../../simulators/devices/common.js';
import type { SimEvent } from '../../../simulators/devices/events.js';
import { deviceTrace, type TracedAction } from '../../../simulators/devices/index.js';
import { localToUtc } from '../../../simulators/devices/local-time.js';
import { bridgeBase, deviceTopic, type DeviceContext, type DeviceSpec, type Format, type Incident } from '../../../simulators/types.js';

// Shared by the simulator tests: a context for one local day, and the contract check — every publish goes
// through the REAL adapter of its format, the way the gateway's ingest feeds it (gateway/ingest/pipeline.ts
// `journalTarget`: a device's `up` only; everything under a bridge's base topic).

export const TZ = 'Europe/Oslo';

export function day(date: string): { start: number; end: number } {
  const [y = 0, m = 0, d = 0] = date.split('-').map(Number);
  const start = localToUtc({ year: y, month: m, day: d }, 0, TZ);
  const next = new Date(Date.UTC(y, m - 1, d + 1));
  const end = localToUtc({ year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() }, 0, TZ);
  return { start, end };
}

/** Local `HH:MM` on a date in Oslo → epoch ms. */
export function local(date: string, hhmm: string): number {
  const [y = 0, m = 0, d = 0] = date.split('-').map(Number);
  const [h = 0, min = 0] = hhmm.split(':').map(Number);
  return localToUtc({ year: y, month: m, day: d }, h * 60 + min, TZ);
}

export function ctxFor(spec: DeviceSpec, date: string, incidents: readonly Incident[] = [], seed = 'seed-1'): DeviceContext {
  return { ...day(date), timeZone: TZ, rand: seeded(`${seed}/${spec.id}`), incidents };
}

export interface Decoded {
  readonly traced: TracedAction;
  readonly subtopic: string;
  readonly events: readonly DecodedEvent[];
}

/** The adapter subtopic for a publish, or undefined for status topics (not adapter input for devices). */
export function subtopicOf(spec: DeviceSpec, topic: string): string | undefined {
  if (spec.kind === 'bridge') {
    const prefix = `${bridgeBase(spec.id)}/`;
    if (!topic.startsWith(prefix)) throw new Error(`bridge ${spec.id} published outside its base topic: ${topic}`);
    return topic.slice(prefix.length);
  }
  if (topic === deviceTopic(spec.id, 'status')) return undefined;
  if (topic !== deviceTopic(spec.id, 'up')) throw new Error(`device ${spec.id} published on a foreign topic: ${topic}`);
  return 'up';
}

/** Decodes every publish with the real adapter; throws with the payload on the first refusal. */
export function decodeTrace(spec: DeviceSpec, trace: readonly TracedAction[]): Decoded[] {
  const adapter = getAdapter(spec.format);
  if (adapter === undefined) throw new Error(`no adapter ${spec.format}`);
  const out: Decoded[] = [];
  for (const traced of trace) {
    const a = traced.action;
    if (a.op !== 'publish') continue;
    const subtopic = subtopicOf(spec, a.topic);
    if (subtopic === undefined) continue;
    const result = adapter.decode({ payload: a.payload, subtopic, receivedAt: new Date(a.at).toISOString() });
    if (!result.ok) {
      throw new Error(`${spec.format} refused ${a.topic} ${a.payload.toString('utf8')}: ${result.reason} ${JSON.stringify(result.issues)}`);
    }
    out.push({ traced, subtopic, events: result.events });
  }
  return out;
}

export function run(spec: DeviceSpec, date: string, incidents: readonly Incident[] = []): { trace: TracedAction[]; decoded: Decoded[] } {
  const trace = deviceTrace(spec, ctxFor(spec, date, incidents));
  return { trace, decoded: decodeTrace(spec, trace) };
}

const merge = <T extends object>(bodies: readonly T[]): T => Object.assign({}, ...bodies) as T;

/**
 * What the simulator meant, checked against what the adapter decoded from the same message. Returns the
 * mismatches (empty when the message says what the simulator meant, as far as its format can say it).
 */
export function mismatches(format: Format, meant: readonly SimEvent[], decoded: readonly DecodedEvent[]): string[] {
  const bodies: EventBody[] = decoded.map((d) => d.body);
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(`${what}; decoded ${JSON.stringify(bodies)}`);
  };
  const z2m = format === 'zigbee2mqtt';
  const measurements = merge(bodies.flatMap((b) => (b.type === 'measurement' ? [b.readings] : [])));
  const vitals = merge(bodies.flatMap((b) => (b.type === 'vitals' ? [b.readings] : [])));
  const status = merge(bodies.flatMap((b) => (b.type === 'status' ? [b.status] : [])));
  for (const e of meant) {
    switch (e.type) {
      case 'dose': {
        const slot = format === 'evcode-dispenser' ? (e.position !== undefined ? String(e.position) : undefined) : e.slot;
        const scheduledAt = e.scheduledAt !== undefined ? new Date(e.scheduledAt).toISOString() : undefined;
        need(
          bodies.some((b) => b.type === 'dose' && b.kind === e.kind && b.slot === slot && b.scheduledAt === scheduledAt),
          `dose ${e.kind} slot ${slot} at ${scheduledAt}`,
        );
        break;
      }
      case 'lock': {
        if (z2m && e.kind === 'left_open') break; // Zigbee2MQTT has no left-open report
        const credentialRef = z2m
          ? e.userSlot !== undefined && (e.kind === 'locked' || e.kind === 'unlocked')
            ? `user-${e.userSlot}`
            : undefined
          : e.credentialRef;
        const method =
          z2m && (e.kind === 'opened' || e.kind === 'closed' || e.kind === 'forced' || e.kind === 'jammed') ? undefined : e.method;
        need(
          bodies.some((b) => b.type === 'lock' && b.kind === e.kind && b.method === method && b.credentialRef === credentialRef),
          `lock ${e.kind} ${method} ${credentialRef}`,
        );
        break;
      }
      case 'measurement': {
        const r = e.readings;
        const want = {
          temperature_c: r.temperatureC,
          humidity_pct: r.humidityPct,
          illuminance_lux: r.illuminanceLux,
          motion: r.motion,
          bed_occupied: z2m ? undefined : r.bedOccupied,
          chair_occupied: z2m ? undefined : r.chairOccupied,
          contact_open: r.doorOpen,
        };
        for (const [k, v] of Object.entries(want))
          if (v !== undefined) need(measurements[k as keyof typeof measurements] === v, `${k} = ${v}`);
        break;
      }
      case 'alarm': {
        const carried = format === 'tryggheim' || (z2m && (e.kind === 'water_leak' || e.kind === 'smoke' || e.kind === 'tamper'));
        if (carried)
          need(
            bodies.some((b) => b.type === 'alarm' && b.kind === e.kind && b.state === e.state),
            `alarm ${e.kind} ${e.state}`,
          );
        break;
      }
      case 'vitals': {
        const r = e.readings;
        const want = {
          heart_rate_bpm: r.heartRateBpm,
          spo2_pct: r.spo2Pct,
          bp_systolic_mmhg: r.systolicMmHg,
          bp_diastolic_mmhg: r.diastolicMmHg,
          body_weight_kg: r.weightKg,
          body_temperature_c: r.bodyTemperatureC,
          blood_glucose_mmol_l: r.glucoseMmolL,
        };
        for (const [k, v] of Object.entries(want)) if (v !== undefined) need(vitals[k as keyof typeof vitals] === v, `${k} = ${v}`);
        break;
      }
      case 'status': {
        if (e.batteryPct !== undefined && format !== 'fhir-observation')
          need(status.battery_pct === e.batteryPct, `battery ${e.batteryPct}`);
        if (e.batteryLow !== undefined && (format === 'tryggheim' || z2m))
          need(status.battery_low === e.batteryLow, `battery_low ${e.batteryLow}`);
        if (e.firmware !== undefined && (format === 'tryggheim' || format === 'evcode-dispenser'))
          need(status.firmware === e.firmware, `firmware ${e.firmware}`);
        if (e.rssiDbm !== undefined && format === 'tryggheim') need(status.rssi_dbm === e.rssiDbm, `rssi ${e.rssiDbm}`);
        if (e.linkQuality !== undefined && z2m) need(status.link_quality === e.linkQuality, `linkquality ${e.linkQuality}`);
        break;
      }
      case 'availability':
        need(status.online === e.online, `online ${e.online}`);
        break;
    }
  }
  return problems;
}

/** All decoded bodies of a run, with the receive time (the action's time) and the device's observedAt. */
export function bodies(decoded: readonly Decoded[]): { at: number; observedAt?: string; child?: string; body: EventBody }[] {
  return decoded.flatMap((d) =>
    d.events.map((e) => ({
      at: d.traced.action.at,
      body: e.body,
      ...(e.observedAt !== undefined ? { observedAt: e.observedAt } : {}),
      ...(e.child !== undefined ? { child: e.child } : {}),
    })),
  );
}
