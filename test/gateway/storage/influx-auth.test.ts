import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { toLine } from '../../../gateway/storage/line-protocol.js';
import { createInfluxQuery } from '../../../gateway/storage/query.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { influxConfig, makeEvent, silent } from './events.js';

// influxd 1.6.7 with `auth-enabled = true`: the v1 transport must send Basic auth (1.6.7 refuses
// `Authorization: Token user:pass`, DESIGN.md).

const auth = { username: 'tryggheim', password: 'not-a-real-secret' };
let influxd: TestInfluxd;

beforeAll(async () => {
  influxd = await startInfluxd({ auth });
});

afterAll(async () => {
  await influxd.stop();
});

const line = toLine(makeEvent({ type: 'alarm', kind: 'panic', state: 'active' }, { deviceId: 'auth-1' }));

describe('v1 auth', () => {
  it('username/password go as Basic auth for writes, CREATE DATABASE and reads', async () => {
    const config = influxConfig(influxd.url, auth);
    const w = await createInfluxWriter(config, { logger: silent });
    try {
      expect((await w.ping()).apiVersion).toBe('v1');
      await w.ensureDatabase();
      await w.write([line]);
      expect(await createInfluxQuery(config, { logger: silent }).count('alarm', { deviceId: 'auth-1' })).toBe(1);
    } finally {
      await w.close();
    }
  });

  it.each([
    ['a wrong password', { ...auth, password: 'wrong' }],
    ['no credentials', {}],
  ])('%s: unauthorized, retryable (the journal keeps the data; an operator fixes the config)', async (_name, creds) => {
    const w = await createInfluxWriter(influxConfig(influxd.url, creds), { logger: silent });
    try {
      await expect(w.write([line])).rejects.toMatchObject({ reason: 'unauthorized', status: 401, retryable: true });
    } finally {
      await w.close();
    }
  });
});
