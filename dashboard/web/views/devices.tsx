// Device health for technicians and admins (issue 6 item 3): filters offline / low battery / silent, and the
// API's actions — disable and enable, a new secret (shown once, with a copy button), move to a home.

import { useEffect, useId, useState } from 'preact/hooks';
import { useT } from '../i18n/context.js';
import { failureText, useLoad, useResources, useTitle } from '../load.js';
import { DEVICE_FILTERS, type DeviceFilter, type DeviceHealth } from '../resource-types.js';
import { DeviceFlags, LoadState, OnlineState, battery, when } from './status.js';

export function DevicesPage() {
  const t = useT();
  useTitle(t.devices.title, t.app.name);
  const filterId = useId();
  const [filter, setFilter] = useState<DeviceFilter | undefined>(undefined);
  const { value, error, reload } = useLoad((r) => r.devices(filter), [filter]);
  const homes = useLoad((r) => r.teams(), []);
  const homeIds = homes.value.state === 'ok' ? homes.value.data.flatMap((team) => team.homes) : [];
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>(undefined);
  const [secret, setSecret] = useState<{ id: string; secret: string } | undefined>(undefined);
  const r = useResources();

  async function act(run: () => Promise<string>) {
    setMessage(undefined);
    try {
      setMessage({ text: await run(), error: false });
      reload();
    } catch (err) {
      setMessage({ text: t.devices.failed(failureText(err, t)), error: true });
    }
  }

  const actions: DeviceActions = {
    setEnabled: (d, enabled) =>
      void act(async () => {
        await r.setEnabled(d.id, enabled);
        return enabled ? t.devices.enabled(d.id) : t.devices.disabledDone(d.id);
      }),
    rotate: (d) => {
      if (!window.confirm(t.devices.rotateConfirm(d.id))) return;
      void act(async () => {
        const out = await r.rotateSecret(d.id);
        setSecret({ id: d.id, secret: out.secret });
        return t.devices.newSecret(d.id);
      });
    },
    assign: (d, homeId) =>
      void act(async () => {
        await r.assign(d.id, homeId);
        return t.devices.assigned(d.id, homeId);
      }),
  };

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>{t.devices.title}</h1>
        {value.state === 'ok' ? <p class="page-head__count">{t.devices.count(value.data.length)}</p> : null}
      </div>
      <div class="filters">
        <div class="field field--inline">
          <label for={filterId}>{t.devices.show}</label>
          <select id={filterId} value={filter ?? ''} onChange={(e) => setFilter(DEVICE_FILTERS.find((f) => f === e.currentTarget.value))}>
            <option value="">{t.devices.all}</option>
            {DEVICE_FILTERS.map((f) => (
              <option key={f} value={f}>
                {t.devices.filters[f]}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div role="status">
        {message !== undefined ? (
          <p class={message.error ? 'form-error' : 'notice notice--ok'} data-testid="device-message">
            {message.text}
          </p>
        ) : null}
      </div>
      {secret !== undefined ? <SecretBox {...secret} onClose={() => setSecret(undefined)} /> : null}
      <LoadState value={value} error={error} loading={t.devices.loading} />
      {value.state === 'ok' && value.data.length === 0 ? <p class="empty">{t.devices.empty}</p> : null}
      {value.state === 'ok' && value.data.length > 0 ? (
        <ul class="rows" data-testid="device-list">
          {value.data.map((d) => (
            <DeviceRow key={d.id} device={d} homeIds={homeIds} actions={actions} />
          ))}
        </ul>
      ) : null}
    </>
  );
}

interface DeviceActions {
  setEnabled(d: DeviceHealth, enabled: boolean): void;
  rotate(d: DeviceHealth): void;
  assign(d: DeviceHealth, homeId: string): void;
}

function DeviceRow({ device: d, homeIds, actions }: { device: DeviceHealth; homeIds: readonly string[]; actions: DeviceActions }) {
  const t = useT();
  const selectId = useId();
  const [target, setTarget] = useState('');
  return (
    <li class="row" data-device-id={d.id}>
      <div class="row__head">
        <strong>{d.id}</strong> <span class="chip">{d.kind}</span> <OnlineState device={d} /> <DeviceFlags device={d} />
      </div>
      <dl class="row__facts">
        <div>
          <dt>{t.devices.home}</dt>
          <dd>{d.homeId ?? t.devices.stock}</dd>
        </div>
        <div>
          <dt>{t.home.battery}</dt>
          <dd>{battery(d, t)}</dd>
        </div>
        <div>
          <dt>{t.home.lastSeen}</dt>
          <dd>{when(d.lastSeenAt, t)}</dd>
        </div>
        <div>
          <dt>{t.home.firmware}</dt>
          <dd>{d.firmware ?? t.status.unknown}</dd>
        </div>
        <div>
          <dt>{t.devices.model}</dt>
          <dd>
            {d.model} ({d.adapterId})
          </dd>
        </div>
      </dl>
      <div class="row__actions">
        <button
          type="button"
          class="button button--secondary"
          aria-label={d.enabled ? t.devices.disableLabel(d.id) : t.devices.enableLabel(d.id)}
          onClick={() => actions.setEnabled(d, !d.enabled)}
        >
          {d.enabled ? t.devices.disable : t.devices.enable}
        </button>
        <button type="button" class="button button--secondary" aria-label={t.devices.rotateLabel(d.id)} onClick={() => actions.rotate(d)}>
          {t.devices.rotate}
        </button>
        <form
          class="assign"
          onSubmit={(e) => {
            e.preventDefault();
            if (target !== '') actions.assign(d, target);
          }}
        >
          <label for={selectId}>{t.devices.assignLabel(d.id)}</label>
          <select id={selectId} value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
            <option value="">{t.devices.choose}</option>
            {homeIds
              .filter((h) => h !== d.homeId)
              .map((h) => (
                <option key={h} value={h}>
                  {h}
                </option>
              ))}
          </select>
          <button type="submit" class="button button--secondary" disabled={target === ''}>
            {t.devices.assignSubmit}
          </button>
        </form>
      </div>
    </li>
  );
}

/** The new secret, once: selectable text and a copy button; gone when closed (never stored). */
function SecretBox({ id, secret, onClose }: { id: string; secret: string; onClose: () => void }) {
  const t = useT();
  const [copied, setCopied] = useState(false);
  const headingId = useId();
  useEffect(() => document.getElementById(headingId)?.focus(), [headingId]);
  return (
    <section class="panel secret" aria-labelledby={headingId} data-testid="new-secret">
      <h2 id={headingId} tabIndex={-1}>
        {t.devices.newSecret(id)}
      </h2>
      <p class="hint">{t.devices.secretOnce}</p>
      <code class="secret__value" data-testid="secret-value">
        {secret}
      </code>
      <div class="row__actions">
        <button
          type="button"
          class="button button--primary"
          onClick={() =>
            void navigator.clipboard.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? `✓ ${t.devices.copied}` : t.devices.copy}
        </button>
        <button type="button" class="button button--quiet" onClick={onClose}>
          {t.devices.close}
        </button>
      </div>
    </section>
  );
}
