// Small pieces the homes and device pages share: a device's state in words (never colour alone), battery,
// "last heard", and the refusal/loading lines.

import type { Messages } from '../i18n/index.js';
import { useT } from '../i18n/context.js';
import { failureText, type Loaded } from '../load.js';
import type { DeviceHealth } from '../resource-types.js';
import { formatDateTime } from '../format.js';

export function OnlineState({ device }: { device: DeviceHealth }) {
  const t = useT();
  if (device.online === true) return <span class="state state--ok">● {t.home.online}</span>;
  if (device.online === false) return <span class="state state--bad">✕ {t.home.offline}</span>;
  return <span class="state state--unknown">? {t.home.unknownOnline}</span>;
}

/** The flags worth a technician's or a nurse's attention, as chips with words. */
export function DeviceFlags({ device }: { device: DeviceHealth }) {
  const t = useT();
  return (
    <>
      {device.lowBattery ? <span class="flag flag--warn">{t.home.lowBattery}</span> : null}
      {device.silent ? <span class="flag flag--bad">⚠ {t.home.silent}</span> : null}
      {device.enabled ? null : <span class="flag">{t.home.disabled}</span>}
    </>
  );
}

export function battery(device: DeviceHealth, t: Messages): string {
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
