import { createCareStore } from '../../../gateway/care/store.js';
import { databasePath, openDatabase } from '../../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../../gateway/devices/registry.js';
import { DEVICES_PER_HOME, DOOR_MINUTES, SERVICE_ACCOUNT_ID, TEAM_ID, type Params } from './params.js';

// The district the gateway serves during the run, written straight into a fresh database before it starts
// (as the ingest bench does; the CLI would take minutes for 1,300 devices):
//
//   background  `devices` multi-sensors, DEVICES_PER_HOME to a home, publishing measurements;
//   falls       one fall sensor per fall, in the background homes (round robin), silent until its one alarm;
//   doors       homes of their own with one lock each and a door-left-open override of DOOR_MINUTES
//               (`tryggheim care override set <home> door-left-open --json '{"minutes":1}'`). They have no
//               multi-sensor: a sensor's `contact_open` is a door contact to the rules, and its random flips
//               would open the same `door` alert.
//
// Every home belongs to one team and has care data: one dose a day and a night window, both placed hours away
// from the run's local time so that neither missed-dose nor door-night fires during it (the figures must
// not depend on when the bench runs). The dashboard reads the stream as a service account of that team.

export interface BenchDevice {
  id: string;
  secret: string;
  homeId: string;
}

export interface District {
  background: BenchDevice[];
  fallSensors: BenchDevice[];
  locks: BenchDevice[];
  homes: number;
  serviceAccount: { id: string; secret: string; teamId: string };
  care: { timeZone: string; night: { from: string; to: string }; dose: string; doorMinutes: number };
}

const TIME_ZONE = 'Europe/Oslo';

/** HH:MM in the home's time zone, `hoursAhead` from now. */
function localClock(hoursAhead: number): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    new Date(Date.now() + hoursAhead * 3_600_000),
  );
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function provisionDistrict(dataDir: string, params: Params): District {
  const homes = Math.max(1, Math.ceil(params.devices / DEVICES_PER_HOME));
  const width = Math.max(4, String(Math.max(params.devices, params.falls, params.doors, homes)).length);
  const night = { from: localClock(6), to: localClock(8) };
  const dose = localClock(10);
  const db = openDatabase(databasePath(dataDir));
  try {
    const registry = createDeviceRegistry({ db });
    const care = createCareStore({ db });
    let district: District | undefined;
    // One transaction: seconds instead of minutes of commits.
    db.transaction(() => {
      const withCare = (homeId: string): void => {
        registry.addHome({ id: homeId, teamId: TEAM_ID, timeZone: TIME_ZONE });
        care.setNightWindow(homeId, night);
        care.setSchedule(homeId, [{ time: dose }]);
      };
      const background: BenchDevice[] = [];
      for (let h = 0; h < homes; h++) withCare(`home-${pad(h, width)}`);
      for (let i = 0; i < params.devices; i++) {
        const homeId = `home-${pad(Math.floor(i / DEVICES_PER_HOME), width)}`;
        const id = `sensor-${pad(i, width)}`;
        const { secret } = registry.addDevice({ id, kind: 'sensor', model: 'bench-multisensor', adapterId: 'tryggheim', homeId });
        background.push({ id, secret, homeId });
      }
      const fallSensors: BenchDevice[] = [];
      for (let i = 0; i < params.falls; i++) {
        const homeId = `home-${pad(i % homes, width)}`;
        const id = `fall-${pad(i, width)}`;
        const { secret } = registry.addDevice({ id, kind: 'sensor', model: 'bench-fall-sensor', adapterId: 'tryggheim', homeId });
        fallSensors.push({ id, secret, homeId });
      }
      const locks: BenchDevice[] = [];
      for (let i = 0; i < params.doors; i++) {
        const homeId = `door-home-${pad(i, width)}`;
        withCare(homeId);
        care.setOverride(homeId, 'door-left-open', { minutes: DOOR_MINUTES });
        const id = `lock-${pad(i, width)}`;
        const { secret } = registry.addDevice({ id, kind: 'lock', model: 'bench-lock', adapterId: 'tryggheim', homeId });
        locks.push({ id, secret, homeId });
      }
      const { account, secret } = registry.addServiceAccount({ id: SERVICE_ACCOUNT_ID, teamId: TEAM_ID });
      district = {
        background,
        fallSensors,
        locks,
        homes: homes + params.doors,
        serviceAccount: { id: account.id, secret, teamId: account.teamId },
        care: { timeZone: TIME_ZONE, night, dose, doorMinutes: DOOR_MINUTES },
      };
    })();
    if (district === undefined) throw new Error('provisioning wrote nothing');
    return district;
  } finally {
    db.close();
  }
}
