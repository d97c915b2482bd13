// Device health for technicians and admins (issue 6 item 3): filters offline / low battery / silent, and the
// API's actions — disable and enable, a new secret (shown once, with a copy button), move to a home.

import { useEffect, useId, useState } from 'preact/hooks';
import { useT } from '../i18n/context.js';
import { useAction, useLoad, useResources, useTitle } from '../load.js';
import { DEVICE_FILTERS, type DeviceFilter, type DeviceHealth } from '../resource-types.js';
import { ActionOutcome, DeviceSummary, LoadState } from './status.js';

export function DevicesPage() {
  const t = useT();
  useTitle(t.devices.title, t.app.name);
  const filterId = useId();
  const [filter, setFilter] = useState<DeviceFilter | undefined>(undefined);
  const { value, error, reload } = useLoad((r) => r.devices(filter), [filter]);
  const homes = useLoad((r) => r.teams(), []);
  const homeIds = homes.value.state === 'ok' ? homes.value.data.flatMap((team) => team.homes) : [];
  const [secret, setSecret] = useState<{ id: string; secret: string } | undefined>(undefined);
  const action = useAction(t.devices.failed);
  const r = useResources();

  /** Runs a device action; the list is read again after one that was done. */
  const act = (run: () => Promise<string>) => void action.run(run).then((done) => done && reload());

  const actions: DeviceActions = {
    setEnabled: (d, enabled) =>
      act(async () => {
        await r.setEnabled(d.id, enabled);
        return enabled ? t.devices.enabled(d.id) : t.devices.disabledDone(d.id);
      }),
    rotate: (d) => {
      if (!window.confirm(t.devices.rotateConfirm(d.id))) return;
      act(async () => {
        const out = await r.rotateSecret(d.id);
        setSecret({ id: d.id, secret: out.secret });
        return t.devices.newSecret(d.id);
      });
    },
    assign: (d, homeId) =>
      act(async () => {
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
      <ActionOutcome message={action.message} testId="device-message" />
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
      <DeviceSummary device={d}>
        <div>
          <dt>{t.devices.home}</dt>
          <dd>{d.homeId ?? t.devices.stock}</dd>
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
      </DeviceSummary>
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
