// Payloads in the native Tryggheim format (adapters/README.md, `## tryggheim`) for load generation.
//
// Black-box by rule (simulators/README.md): this file speaks only the wire format and imports nothing from
// adapters/ or gateway/.
//
// One message is one `measurement` event from a multi-sensor (room climate, light, motion, bed, chair,
// door contact) with the device's clock (`ts`, ISO-8601 with milliseconds) and message counter (`seq`):
// every field is a legitimate reading of the strict native format, no padding. About 205 bytes:
//
//   {"type":"measurement","ts":"2026-11-23T06:47:57.081Z","seq":12345,"temperature_c":21.53,
//    "humidity_pct":41.2,"illuminance_lux":312.5,"motion":false,"bed_occupied":true,
//    "chair_occupied":false,"contact_open":false}

export interface SensorState {
  temperatureC: number;
  humidityPct: number;
  illuminanceLux: number;
  motion: boolean;
  bedOccupied: boolean;
  chairOccupied: boolean;
  contactOpen: boolean;
}

/** A small deterministic PRNG (mulberry32), so a run's payloads can be reproduced from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function initialSensorState(rand: () => number): SensorState {
  return {
    temperatureC: 19 + rand() * 5,
    humidityPct: 30 + rand() * 30,
    illuminanceLux: rand() * 600,
    motion: rand() < 0.2,
    bedOccupied: rand() < 0.3,
    chairOccupied: rand() < 0.2,
    contactOpen: rand() < 0.05,
  };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** The next reading: a slow random walk for the analogue values, occasional flips for the binary ones. */
export function stepSensorState(s: SensorState, rand: () => number): void {
  s.temperatureC = clamp(s.temperatureC + (rand() - 0.5) * 0.1, 15, 30);
  s.humidityPct = clamp(s.humidityPct + (rand() - 0.5) * 0.4, 10, 90);
  s.illuminanceLux = clamp(s.illuminanceLux + (rand() - 0.5) * 20, 0, 2000);
  if (rand() < 0.05) s.motion = !s.motion;
  if (rand() < 0.01) s.bedOccupied = !s.bedOccupied;
  if (rand() < 0.01) s.chairOccupied = !s.chairOccupied;
  if (rand() < 0.005) s.contactOpen = !s.contactOpen;
}

/** The native payload for one reading (a JSON string; the key order is fixed so sizes are stable). */
export function nativeMeasurement(s: SensorState, seq: number, tsMs: number): string {
  return (
    `{"type":"measurement","ts":"${new Date(tsMs).toISOString()}","seq":${seq}` +
    `,"temperature_c":${s.temperatureC.toFixed(2)},"humidity_pct":${s.humidityPct.toFixed(1)}` +
    `,"illuminance_lux":${s.illuminanceLux.toFixed(1)},"motion":${s.motion},"bed_occupied":${s.bedOccupied}` +
    `,"chair_occupied":${s.chairOccupied},"contact_open":${s.contactOpen}}`
  );
}

export function nativeUpTopic(deviceId: string): string {
  return `tryggheim/v1/devices/${deviceId}/up`;
}
