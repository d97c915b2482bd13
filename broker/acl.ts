import type { Principal } from './types.js';

// Topic rules for devices, bridges, observers and service accounts (DESIGN.md "Topics"). Pure functions; the
// policy calls them from the aedes hooks. Filters are compared as strings on purpose: a device gets exact
// topics, never wildcards, so there is no wildcard algebra to get wrong. An observer (a technician's recorder)
// gets a few fixed filter shapes, each of which can only ever match topics it may read (see
// observerMaySubscribe). Bridges and service accounts get wildcards only below a literal prefix of their own,
// so every topic such a filter can match starts with that prefix.

export const TOPIC_ROOT = 'tryggheim/v1';
export const DEVICE_CHANNELS_UP = ['up', 'status'] as const;

export function deviceTopic(deviceId: string, channel: 'up' | 'status' | 'down'): string {
  return `${TOPIC_ROOT}/devices/${deviceId}/${channel}`;
}

export function bridgePrefix(bridgeId: string): string {
  return `${TOPIC_ROOT}/bridges/${bridgeId}/`;
}

const BRIDGES_ROOT = `${TOPIC_ROOT}/bridges/`;
const ALERTS_ROOT = `${TOPIC_ROOT}/alerts/`;

/** A team's alert topics for integrations (gateway/delivery/mqtt.ts publishes `events` and `open` under it). */
export function alertsPrefix(teamId: string): string {
  return `${ALERTS_ROOT}${teamId}/`;
}

/**
 * The prefix a service account reads, or undefined when its team id could not be one literal topic level: a
 * team id of `+` or `#` would turn the prefix into a wildcard over every team. The registry never stores such
 * an id (gateway/devices/ids.ts); this check keeps the broker from relying on that.
 */
function serviceAlertsPrefix(teamId: string): string | undefined {
  if (teamId === '' || hasWildcard(teamId) || teamId.includes('/')) return undefined;
  return alertsPrefix(teamId);
}

/** Below the prefix, not the prefix itself: `{prefix}#`, `{prefix}open`, `{prefix}+`... */
function strictlyBelow(s: string, prefix: string | undefined): boolean {
  return prefix !== undefined && s.startsWith(prefix) && s.length > prefix.length;
}

/** The device id in `tryggheim/v1/devices/{id}/{channel}`, or undefined for any other topic. */
export function parseDeviceTopic(topic: string): { deviceId: string; channel: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'tryggheim' || parts[1] !== 'v1' || parts[2] !== 'devices') return undefined;
  const [, , , deviceId, channel] = parts as [string, string, string, string, string];
  if (deviceId === '' || channel === '') return undefined;
  return { deviceId, channel };
}

function hasWildcard(s: string): boolean {
  return s.includes('+') || s.includes('#');
}

export function mayPublish(p: Principal, topic: string): boolean {
  if (topic.startsWith('$') || hasWildcard(topic)) return false;
  switch (p.kind) {
    case 'device':
      return topic === deviceTopic(p.id, 'up') || topic === deviceTopic(p.id, 'status');
    case 'bridge':
      // A Zigbee2MQTT-style hub publishes anything under its own base topic.
      return topic.startsWith(bridgePrefix(p.id)) && topic.length > bridgePrefix(p.id).length;
    case 'observer':
      // Read-only by definition: nothing it sends can become device data or a forged status.
      return false;
    case 'service':
      // Read-only too: alerts come from the gateway's outbox only, never from an integration.
      return false;
    case 'test':
      return true;
  }
}

export function maySubscribe(p: Principal, filter: string): boolean {
  if (filter.startsWith('$')) return false;
  switch (p.kind) {
    case 'device':
      return filter === deviceTopic(p.id, 'down');
    case 'bridge': {
      // Zigbee2MQTT subscribes to `{base}/#`; wildcards are fine only below the bridge's own literal prefix.
      const prefix = bridgePrefix(p.id);
      return filter.startsWith(prefix) && filter.length > prefix.length;
    }
    case 'observer':
      return observerMaySubscribe(filter);
    case 'service':
      // Its own team's alerts only; wildcards only below the team's literal prefix, like a bridge.
      return strictlyBelow(filter, serviceAlertsPrefix(p.teamId));
    case 'test':
      return true;
  }
}

/** Delivery-time check (authorizeForward): the concrete topic must be one the principal may read. */
export function mayReceive(p: Principal, topic: string): boolean {
  if (topic.startsWith('$')) return false;
  switch (p.kind) {
    case 'device':
      return topic === deviceTopic(p.id, 'down');
    case 'bridge':
      return topic.startsWith(bridgePrefix(p.id));
    case 'observer':
      return observerMayRead(topic);
    case 'service':
      return !hasWildcard(topic) && strictlyBelow(topic, serviceAlertsPrefix(p.teamId));
    case 'test':
      return true;
  }
}

/**
 * What an observer reads: every device's `up` and `status` (never `down`: commands to devices are not
 * device traffic), and everything under `tryggheim/v1/bridges/`. Alerts, `$SYS` and anything else: no.
 */
function observerMayRead(topic: string): boolean {
  if (hasWildcard(topic)) return false;
  const dev = parseDeviceTopic(topic);
  if (dev !== undefined) return dev.channel === 'up' || dev.channel === 'status';
  return topic.startsWith(BRIDGES_ROOT) && topic.length > BRIDGES_ROOT.length;
}

/**
 * Filters an observer may use. Each accepted shape matches only topics observerMayRead allows, so the
 * SUBSCRIBE check and the delivery check agree: `tryggheim/v1/devices/{id|+}/{up|status}`, and any filter
 * below `tryggheim/v1/bridges/` (`#`, `{bridgeId}/#`, ...). `tryggheim/v1/devices/#` or `.../+/+` would
 * include `down`, so they are refused rather than trimmed.
 */
function observerMaySubscribe(filter: string): boolean {
  if (filter.startsWith(BRIDGES_ROOT)) return filter.length > BRIDGES_ROOT.length;
  const parts = filter.split('/');
  if (parts.length !== 5 || parts[0] !== 'tryggheim' || parts[1] !== 'v1' || parts[2] !== 'devices') return false;
  const [, , , id, channel] = parts as [string, string, string, string, string];
  const idOk = id === '+' || (id !== '' && !hasWildcard(id));
  return idOk && (channel === 'up' || channel === 'status');
}
