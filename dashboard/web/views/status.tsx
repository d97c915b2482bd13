// Small pieces the homes and device pages share: a device's state in words (never colour alone), battery,
// "last heard", a home's open alerts, and the refusal/loading lines.

import type { ComponentChildren } from 'preact';
import { deviceKindText, type Messages } from '../i18n/index.js';
import { useT } from '../i18n/context.js';
import { failureText, type ActionMessage, type Loaded } from '../load.js';
import type { DeviceHealth, SeverityCounts } from '../resource-types.js';
import { formatDateTime } from '../format.js';
import { SEVERITY_ORDER } from '../types.js';

function OnlineState({ device }: { device: DeviceHealth }) {
  const t = useT();
  if (device.online === true) return <span class="state state--ok">● {t.home.online}</span>;
  if (device.online === false) return <span class="state state--bad">✕ {t.home.offline}</span>;
  return <span class="state state--unknown">? {t.home.unknownOnline}</span>;
}

/** The flags worth a technician's or a nurse's attention, as chips with words. */
function DeviceFlags({ device }: { device: DeviceHealth }) {
  const t = useT();
  return (
    <>
      {device.lowBattery ? <span class="flag flag--warn">{t.home.lowBattery}</span> : null}
      {device.silent ? <span class="flag flag--bad">⚠ {t.home.silent}</span> : null}
      {device.enabled ? null : <span class="flag">{t.home.disabled}</span>}
    </>
  );
}

/**
 * A device as a row's head and facts: id, kind, online, flags; battery and last heard, then the page's own
 * facts (`children`: `<div><dt/><dd/></div>` items).
 */
export function DeviceSummary({ device: d, children }: { device: DeviceHealth; children?: ComponentChildren }) {
  const t = useT();
  return (
    <>
      <div class="row__head">
        <strong>{d.id}</strong> <span class="chip">{deviceKindText(d.kind, t)}</span> <OnlineState device={d} /> <DeviceFlags device={d} />
      </div>
      <dl class="row__facts">
        <div>
          <dt>{t.home.battery}</dt>
          <dd>{battery(d, t)}</dd>
        </div>
        <div>
          <dt>{t.home.lastSeen}</dt>
          <dd>{when(d.lastSeenAt, t)}</dd>
        </div>
        {children}
      </dl>
    </>
  );
}

/** A home's open alerts by severity (count and word on each badge), or a tick for none. */
export function OpenAlerts({ counts }: { counts: SeverityCounts }) {
  const t = useT();
  if (counts.total === 0) return <span class="state state--ok">✓ {t.homes.noAlerts}</span>;
  return (
    <>
      <span class="sr-only">{t.homes.openAlerts}: </span>
      {SEVERITY_ORDER.filter((s) => counts[s] > 0).map((s) => (
        <span key={s} class={`badge badge--${s}`}>
          {counts[s]} {t.severity[s]}
        </span>
      ))}
    </>
  );
}

function battery(device: DeviceHealth, t: Messages): string {
  return device.batteryPct === null ? t.status.unknown : `${Math.round(device.batteryPct)} %`;
}

export function when(iso: string | null, t: Messages): string {
  return iso === null ? t.status.unknown : formatDateTime(iso, t.locale);
}

/** Loading and error lines for a Loaded value; undefined when it is loaded. */
export function LoadState<T>({ value, error, loading }: { value: Loaded<T>; error: unknown; loading: string }) {
  const t = useT();
  if (value.state === 'loading')
    return (
      <p class="loading" role="status">
        {loading}
      </p>
    );
  if (value.state === 'error')
    return (
      <p class="form-error" role="alert" data-testid="load-error">
        {failureText(error, t)}
      </p>
    );
  return null;
}

/** The outcome of the page's last action (useAction), in a status region that is always there to be announced. */
export function ActionOutcome({ message, testId }: { message: ActionMessage | undefined; testId: string }) {
  return (
    <div role="status">
      {message !== undefined ? (
        <p class={message.error ? 'form-error' : 'notice notice--ok'} data-testid={testId}>
          {message.text}
        </p>
      ) : null}
    </div>
  );
}
