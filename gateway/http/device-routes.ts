import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Alert } from '../alerts/model.js';
import type { AuditAction, AuditLog } from '../auth/audit.js';
import { DeviceIdSchema, HomeIdSchema, TeamIdSchema } from '../devices/ids.js';
import { RegistryError, type Device } from '../devices/model.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { errorResponses, HttpError } from './errors.js';
import { DeviceHealthSchema, deviceHealthView, indexAlerts, type DeviceHealthView, type HealthSources } from './health-view.js';
import { auditFor, deviceTeam, requireTeams, visibleDevice, visibleHome } from './scope.js';

// Devices for technicians and admins (issue 6 item 1): health with filters, moving a device to another home,
// switching it off and on, and a new secret. A device is its home's team's; one in stock is an admin's only
// (gateway/http/scope.ts). Every view and change is audited — a new secret without the secret. As with the CLI,
// disabling and a new secret refuse the device's next CONNECT and, within about a second, close the connection
// it has open (gateway/devices/credential-watch.ts notices the registry change; the broker cuts the client).

export interface DeviceRoutesOptions extends HealthSources {
  registry: Pick<DeviceRegistry, 'getHome' | 'getDevice' | 'listDevices' | 'assign' | 'setEnabled' | 'rotateSecret'>;
  /** Alerts not yet resolved, of these teams (for the rules' "silent" and "low battery"). */
  openAlerts: (teams: '*' | readonly string[]) => Alert[];
}

const STATUSES = ['offline', 'low_battery', 'silent'] as const;
const ListQuerySchema = z.strictObject({
  status: z.enum(STATUSES).optional(),
  team: TeamIdSchema.optional(),
  home: HomeIdSchema.optional(),
});
const DeviceParamsSchema = z.strictObject({ id: DeviceIdSchema });
const AssignBodySchema = z.strictObject({ homeId: HomeIdSchema });
const DeviceResponseSchema = z.object({ device: DeviceHealthSchema });

const MATCHES: Readonly<Record<(typeof STATUSES)[number], (d: DeviceHealthView) => boolean>> = {
  offline: (d) => d.online === false,
  low_battery: (d) => d.lowBattery,
  silent: (d) => d.silent,
};

export const deviceRoutes: FastifyPluginCallbackZod<DeviceRoutesOptions & { audit: AuditLog }> = (app, opts, done) => {
  const getHome = (id: string) => opts.registry.getHome(id);
  const getDevice = (id: string) => opts.registry.getDevice(id);
  const scopeDeps = { audit: opts.audit, getHome, getDevice };

  const view = (device: Device): DeviceHealthView => {
    const teamId = deviceTeam(device, getHome);
    return deviceHealthView(device, teamId, opts, indexAlerts(opts.openAlerts(teamId === undefined ? '*' : [teamId])));
  };

  /** Runs a change for a visible device and audits it; a refusal by the registry is audited as failed. */
  function change<T>(
    request: FastifyRequest,
    id: string,
    action: AuditAction,
    fn: (device: Device) => T,
    detail: Record<string, string> = {},
  ): { device: Device; result: T } {
    const { auth, device, teamId } = visibleDevice(request, scopeDeps, id, action);
    const entry = { targetType: 'device', targetId: device.id, teamId: teamId ?? null } as const;
    let result: T;
    try {
      result = fn(device);
    } catch (err) {
      const code = err instanceof RegistryError || err instanceof HttpError ? err.code : 'error';
      auditFor(opts.audit, auth, action, 'failed', { ...entry, detail: { ...detail, code } });
      throw err;
    }
    const now = getDevice(device.id) ?? device;
    auditFor(opts.audit, auth, action, 'ok', { ...entry, teamId: deviceTeam(now, getHome) ?? null, detail });
    return { device: now, result };
  }

  app.get(
    '/api/v1/devices',
    {
      config: { auth: { permission: 'devices.read' } },
      schema: {
        summary: "Devices of the caller's teams with their health (online, last seen, battery, firmware); filter by status",
        tags: ['devices'],
        querystring: ListQuerySchema,
        response: { 200: z.object({ devices: z.array(DeviceHealthSchema) }), ...errorResponses },
      },
    },
    (request) => {
      const q = request.query;
      const { auth, teams } = requireTeams(request, opts.audit, 'device.list', q.team);
      if (q.home !== undefined) visibleHome(request, { audit: opts.audit, getHome }, q.home, 'device.list');
      const idx = indexAlerts(opts.openAlerts(teams));
      const devices = opts.registry
        .listDevices(q.home === undefined ? {} : { homeId: q.home })
        .map((d) => ({ d, teamId: deviceTeam(d, getHome) }))
        // Stock devices (no team) only when no team was asked for, and only for an admin.
        .filter(({ teamId }) =>
          teamId === undefined ? q.team === undefined && auth.scope === '*' : teams === '*' || teams.includes(teamId),
        )
        .map(({ d, teamId }) => deviceHealthView(d, teamId, opts, idx))
        .filter((d) => q.status === undefined || MATCHES[q.status](d));
      auditFor(opts.audit, auth, 'device.list', 'ok', {
        targetType: 'team',
        targetId: q.team ?? null,
        teamId: q.team ?? null,
        detail: { devices: devices.length, ...(q.status === undefined ? {} : { status: q.status }) },
      });
      return { devices };
    },
  );

  app.post(
    '/api/v1/devices/:id/assign',
    {
      config: { auth: { permission: 'devices.write' } },
      schema: {
        summary: 'Move the device to a home from now on (its history is kept; readings belong to the home of their time)',
        tags: ['devices'],
        params: DeviceParamsSchema,
        body: AssignBodySchema,
        response: { 200: DeviceResponseSchema.extend({ changed: z.boolean() }), ...errorResponses },
      },
    },
    (request) => {
      const { homeId } = request.body;
      // The target home must be the caller's too: the same 404 as a home that does not exist.
      visibleHome(request, { audit: opts.audit, getHome }, homeId, 'device.assign');
      const { device, result } = change(request, request.params.id, 'device.assign', (d) => opts.registry.assign(d.id, homeId), {
        to: homeId,
      });
      return { device: view(device), changed: result.changed };
    },
  );

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.post(
      `/api/v1/devices/:id/${name}`,
      {
        config: { auth: { permission: 'devices.write' } },
        schema: {
          summary: enabled
            ? 'Let the device connect again'
            : 'Refuse the device: its open connection is closed within about a second and its next CONNECT refused (its data and history stay)',
          tags: ['devices'],
          params: DeviceParamsSchema,
          response: { 200: DeviceResponseSchema, ...errorResponses },
        },
      },
      (request) => {
        const { device } = change(request, request.params.id, enabled ? 'device.enable' : 'device.disable', (d) => {
          opts.registry.setEnabled(d.id, enabled);
        });
        return { device: view(device) };
      },
    );
  }

  app.post(
    '/api/v1/devices/:id/rotate-secret',
    {
      config: { auth: { permission: 'devices.write' } },
      schema: {
        summary:
          'A new secret for the device, shown once in this answer; the old one stops working at once (an open connection is closed within about a second)',
        tags: ['devices'],
        params: DeviceParamsSchema,
        response: { 200: DeviceResponseSchema.extend({ secret: z.string() }), ...errorResponses },
      },
    },
    (request) => {
      const { device, result } = change(request, request.params.id, 'device.rotate_secret', (d) => opts.registry.rotateSecret(d.id));
      return { device: view(device), secret: result };
    },
  );

  done();
};
