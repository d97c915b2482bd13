import type { DeviceContext, DeviceSpec } from '../types.js';
import { assemble, between, offlineWindows, sec, within, type Happening, type Subject, type TracedAction } from './common.js';
import type { SimEvent } from './events.js';
import { MINUTE } from './local-time.js';
import { lockBehaviour } from './lock.js';
import { sensorBehaviour } from './sensor.js';

// Zigbee2MQTT hub, connected as one bridge client. Its children (Zigbee sensors and locks, battery-powered
// end devices) behave like the stand-alone models, but report through the hub: on their friendly-name
// topics, as whole-state republishes, with availability per child — `online` whenever the hub (re)connects,
// `offline`/`online` around a child's own device-offline incident. The hub republishes its `bridge/state`
// every ~5 minutes (mains-powered heartbeat). When the hub is offline nothing is queued: Zigbee2MQTT drops
// what it cannot publish.

const HUB_HEARTBEAT = 5 * MINUTE;

export function hubActions(spec: DeviceSpec, ctx: DeviceContext): Iterable<TracedAction> {
  const happenings: Happening[] = [];
  const initial = new Map<string, readonly SimEvent[]>();
  const online = (up: boolean): SimEvent => ({ type: 'availability', online: up });

  for (let t = ctx.start + ctx.rand() * HUB_HEARTBEAT; t < ctx.end; t += HUB_HEARTBEAT * between(ctx.rand, 0.98, 1.02)) {
    happenings.push({ at: sec(t), events: [online(true)], heartbeat: true });
  }
  const connects = [ctx.start, ...offlineWindows(ctx, spec).map((w) => w.end)].filter((t) => t < ctx.end);

  for (const child of spec.children ?? []) {
    const subject: Subject & { home: string; model: string; roles?: typeof child.roles } = {
      id: child.id,
      kind: child.kind,
      power: 'battery',
      home: spec.home,
      model: child.model,
      ...(child.roles !== undefined ? { roles: child.roles } : {}),
    };
    // Zigbee2MQTT exposes sensors and locks; a dispenser or vitals kit never sits behind it.
    if (child.kind !== 'lock' && child.kind !== 'sensor') continue;
    const b = child.kind === 'lock' ? lockBehaviour(subject, ctx, child) : sensorBehaviour(subject, ctx, child);
    initial.set(child.friendlyName, b.initial);
    const away = offlineWindows(ctx, subject);
    happenings.push(...b.happenings.filter((h) => !away.some((w) => within(h.at, w))));
    for (const w of away) {
      happenings.push({ at: w.start, events: [online(false)], child });
      happenings.push({ at: w.end, events: [online(true)], child });
    }
    for (const c of connects) if (!away.some((w) => within(c, w))) happenings.push({ at: c, events: [online(true)], child });
  }
  return assemble(spec, ctx, happenings, initial);
}
