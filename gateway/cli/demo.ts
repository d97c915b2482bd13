import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { generatePassword } from '../auth/password.js';
import { createUserStore } from '../auth/users.js';
import { createLogger } from '../log.js';
import { createInfluxWriter } from '../storage/influx.js';
import { startInfluxdProcess, type InfluxdProcess } from '../storage/influxd-process.js';
import type { Config } from '../config/schema.js';
import { startGateway, type Gateway, type GatewayOptions } from '../main.js';
import { scaledClock } from '../../simulators/clock.js';
import { loadScenario, ScenarioError } from '../../simulators/scenario/index.js';
import { DEMO_SCENARIO, projectFile, startDistrict } from './demo-district.js';
import type { CliContext } from './context.js';
import { runUntilSignal } from './run.js';

// `npm run demo`: a gateway with a demo home and device in the configured data directory (./data by
// default, inside the project), and the exact commands to talk to it. On a machine where the standard ports
// are taken it falls back to free ones and prints those.

export const DEMO_HOME = 'home-demo-01';
export const DEMO_TEAM = 'team-demo';
export const DEMO_DEVICE = 'd-demo-0001';
/** The demo's dashboard login: a nurse of the demo team (every simulated home is the demo team's). */
export const DEMO_NURSE = 'demo-nurse';

function withFreePorts(config: Readonly<Config>): Readonly<Config> {
  return {
    ...config,
    broker: {
      ...config.broker,
      tcp: { ...config.broker.tcp, port: 0 },
      tls: { ...config.broker.tls, port: 0 },
      ws: { ...config.broker.ws, port: 0 },
    },
    http: { ...config.http, port: 0 },
  };
}

/**
 * Without a configured InfluxDB the demo runs Debian's influxd itself (data under dataDir/influxdb, a free
 * loopback port) and stops it when the gateway stops.
 */
async function localInflux(config: Readonly<Config>, ctx: CliContext): Promise<{ config: Readonly<Config>; influxd?: InfluxdProcess }> {
  if (config.influx.url !== undefined) return { config };
  const logger = createLogger({ level: config.log.level });
  const influxd = await startInfluxdProcess({ dataDir: join(resolve(config.dataDir), 'influxdb'), logger });
  const influx = { ...config.influx, url: influxd.url, apiVersion: 'v1' as const };
  const writer = await createInfluxWriter(influx, { logger });
  await writer.ensureDatabase();
  await writer.close();
  ctx.out(`Started a local InfluxDB for the demo: ${influxd.url} (database ${influx.database})`);
  return { config: { ...config, influx }, influxd };
}

async function startDemoGateway(original: Readonly<Config>, ctx: CliContext, opts: GatewayOptions = {}): Promise<Gateway> {
  const { config, influxd } = await localInflux(original, ctx);
  let gateway: Gateway;
  try {
    try {
      gateway = await startGateway(config, opts);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      if ((e.code ?? e.cause?.code) !== 'EADDRINUSE') throw err;
      ctx.err('note: a configured port is in use on this machine; the demo uses free ports instead.');
      gateway = await startGateway(withFreePorts(config), opts);
    }
  } catch (err) {
    await influxd?.stop();
    throw err;
  }
  if (!influxd) return gateway;
  const close = gateway.close.bind(gateway);
  return Object.assign(gateway, {
    async close() {
      await close();
      await influxd.stop();
    },
  });
}

/** Provisions the demo home and device when missing; rotates the demo device's secret so it can be shown. */
export function provisionDemo(gw: Gateway): { deviceId: string; secret: string } {
  const { registry } = gw;
  if (registry.getHome(DEMO_HOME) === undefined) registry.addHome({ id: DEMO_HOME, teamId: DEMO_TEAM });
  if (registry.getDevice(DEMO_DEVICE) === undefined) {
    const { secret } = registry.addDevice({
      id: DEMO_DEVICE,
      kind: 'dispenser',
      model: 'demo-dispenser',
      adapterId: 'tryggheim',
      homeId: DEMO_HOME,
    });
    return { deviceId: DEMO_DEVICE, secret };
  }
  // Demo only: a production secret is shown once; the demo shows a fresh one at every start instead.
  return { deviceId: DEMO_DEVICE, secret: registry.rotateSecret(DEMO_DEVICE) };
}

/**
 * The demo nurse, in the demo's own database (its data dir): created when missing, and given a freshly generated
 * password at every start so it can be printed. Demo only — real users get theirs once from `tryggheim users
 * add` (only the hash is stored, here too); a new password also ends the previous run's sessions.
 */
export async function provisionDemoNurse(gw: Gateway): Promise<{ username: string; password: string }> {
  const users = createUserStore({ db: gw.db, now: () => Date.now() });
  const password = generatePassword();
  if (users.findByUsername(DEMO_NURSE) === undefined) {
    await users.add({ username: DEMO_NURSE, displayName: 'Demo nurse', role: 'nurse', teams: [DEMO_TEAM] }, password);
  } else {
    await users.setPassword(DEMO_NURSE, password);
  }
  return { username: DEMO_NURSE, password };
}

/** The dashboard's address. Loopback by name when the gateway listens on every address: browsers keep the Secure cookie there over http. */
export function dashboardUrl(gw: Gateway): string {
  const { address, port } = gw.http.address;
  const host = address === '0.0.0.0' || address === '::' ? '127.0.0.1' : address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}/`;
}

export function demoInstructions(
  gw: Gateway,
  device: { deviceId: string; secret: string },
  nurse: { username: string; password: string },
): string[] {
  const mqtt = gw.broker.address('tcp');
  const ws = gw.broker.address('ws');
  const http = gw.http.address;
  const port = mqtt?.port ?? 1883;
  const auth = `-i ${device.deviceId} -u ${device.deviceId} -P '${device.secret}'`;
  const dashboard = dashboardUrl(gw);
  return [
    '',
    'Tryggheim demo is running.',
    `  Dashboard ${dashboard}   (wall board: ${dashboard}tavle)`,
    `  Login     ${nurse.username} / ${nurse.password}   (demo only: a nurse of ${DEMO_TEAM}, new password at every start)`,
    `  MQTT      mqtt://127.0.0.1:${port}${ws ? `   (WebSocket: ws://127.0.0.1:${ws.port}${gw.config.broker.ws.path})` : ''}`,
    `  HTTP      http://${http.address}:${http.port}/healthz   /readyz   /metrics   /docs`,
    `  Data      ${gw.config.dataDir}`,
    `  InfluxDB  ${gw.config.influx.url ?? 'not configured (messages wait in the journal)'}`,
    `  Demo home ${DEMO_HOME} (team ${DEMO_TEAM}), device ${device.deviceId}`,
    '',
    'Publish a reading as the demo device (QoS 1):',
    `  mosquitto_pub -h 127.0.0.1 -p ${port} ${auth} -q 1 -t tryggheim/v1/devices/${device.deviceId}/up -m '{"type":"dose.taken","slot":"08:00"}'`,
    ...(gw.config.influx.url !== undefined
      ? [
          'See it stored in InfluxDB:',
          `  curl -sG '${gw.config.influx.url}/query' --data-urlencode 'db=${gw.config.influx.database}' --data-urlencode 'q=SELECT * FROM "dose"'`,
        ]
      : []),
    'Set its status (retained), as a device does when it comes online:',
    `  mosquitto_pub -h 127.0.0.1 -p ${port} ${auth} -q 1 -r -t tryggheim/v1/devices/${device.deviceId}/status -m online`,
    'Listen for commands to it:',
    `  mosquitto_sub -h 127.0.0.1 -p ${port} ${auth} -q 1 -t tryggheim/v1/devices/${device.deviceId}/down`,
    'Anything else is refused, e.g. subscribing to everything:',
    `  mosquitto_sub -h 127.0.0.1 -p ${port} ${auth} -t '#'`,
    '',
    'Stop with Ctrl+C.',
  ];
}

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the gateway with a demo home and device and a simulated district of homes, and print how to publish to it')
    .option('--scenario <file>', 'the simulated district', DEMO_SCENARIO)
    .option('--speed <n>', "simulated time per real time (default: the scenario's)", Number)
    .option('--no-district', 'no simulated district: only the demo home and device')
    .option('--verbose', "the gateway's info log lines too (default: warnings and errors only)")
    .action(async (opts: { scenario: string; speed?: number; district: boolean; verbose?: boolean }) => {
      // A thousand devices coming online is a thousand info lines: the demo shows what matters instead.
      const configured = ctx.config();
      const config = opts.verbose === true ? configured : { ...configured, log: { ...configured.log, level: 'warn' as const } };
      let district: { scenario: ReturnType<typeof loadScenario>; speed: number; clock: ReturnType<typeof scaledClock> } | undefined;
      if (opts.district) {
        const file = opts.scenario === DEMO_SCENARIO ? projectFile(DEMO_SCENARIO) : opts.scenario;
        let scenario;
        try {
          // The district's day starts now and runs fast; the gateway reads the same clock.
          scenario = loadScenario(file, { start: Date.now() });
        } catch (err) {
          if (err instanceof ScenarioError) {
            ctx.err(`error: ${err.message}`);
            process.exitCode = 1;
            return;
          }
          throw err;
        }
        const speed = opts.speed ?? (typeof scenario.speed === 'number' ? scenario.speed : 120);
        district = { scenario, speed, clock: scaledClock(scenario.start, speed) };
      }
      const clock = district?.clock;
      await runUntilSignal(
        () => startDemoGateway(config, ctx, clock ? { clock } : {}),
        ctx,
        async (gw) => {
          const nurse = await provisionDemoNurse(gw);
          for (const line of demoInstructions(gw, provisionDemo(gw), nurse)) ctx.out(line);
          if (!district) return;
          const running = startDistrict(gw, district.scenario, district, ctx);
          return () => running.stop();
        },
      );
    });
}
