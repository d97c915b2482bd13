import { spawn } from 'node:child_process';
import type { Gateway } from '../../gateway/main.js';
import type { DeviceKind } from '../../gateway/devices/ids.js';
import type { Credentials } from '../../simulators/types.js';

// Helpers for simulator tests against a real gateway: provisioning through the registry, what the ingest
// journaled (dead letters included), and a mosquitto_sub child bounded in time.

export const TEST_HOME = 'home-sim-1';

/** Registers the devices (a home, the adapter each kind's traffic uses) and returns their credentials. */
export function provision(gw: Gateway, devices: readonly { id: string; kind: DeviceKind; adapter?: string }[]): Credentials {
  if (gw.registry.getHome(TEST_HOME) === undefined) gw.registry.addHome({ id: TEST_HOME, teamId: 'team-sim' });
  const creds: Record<string, { secret: string }> = {};
  for (const d of devices) {
    const adapterId = d.adapter ?? (d.kind === 'bridge' ? 'zigbee2mqtt' : d.kind === 'observer' ? 'none' : 'tryggheim');
    const { secret } = gw.registry.addDevice({
      id: d.id,
      kind: d.kind,
      model: 'sim-test',
      adapterId,
      homeId: d.kind === 'observer' ? undefined : TEST_HOME,
    });
    creds[d.id] = { secret };
  }
  return creds;
}

/**
 * Every message the ingest accepted, journal and dead letters together, in journal order, as
 * `principal subtopic` → payloads (base64, so any bytes compare exactly).
 */
export function journaled(gw: Gateway): Map<string, string[]> {
  const rows = gw.journal.db
    .prepare(
      `SELECT seq, principal_id AS id, subtopic, payload FROM journal
       UNION ALL SELECT journal_seq AS seq, principal_id AS id, subtopic, payload FROM dead_letters ORDER BY seq`,
    )
    .all() as { id: string; subtopic: string; payload: Buffer }[];
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const key = `${r.id} ${r.subtopic}`;
    out.set(key, [...(out.get(key) ?? []), r.payload.toString('base64')]);
  }
  return out;
}

export interface Sub {
  readonly lines: string[];
  /** Resolves when `n` lines have arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<string[]>;
  stop(): void;
}

/** mosquitto_sub -v with the given args; killed by stop() or after `maxMs` at the latest. */
export function mosquittoSub(args: readonly string[], maxMs = 20_000): Sub {
  const child = spawn('mosquitto_sub', ['-v', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  let waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), maxMs);
  return {
    lines,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (lines.length < n) {
        if (Date.now() > deadline) throw new Error(`mosquitto_sub: ${lines.length} of ${n} lines: ${lines.join(' | ')}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
      return lines.slice(0, n);
    },
    stop() {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}
