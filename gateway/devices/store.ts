import type { Database } from '../db/sqlite.js';
import type { DeviceKind } from './ids.js';
import type { Assignment, BridgeChild, Device, Home, ServiceAccount } from './model.js';

/*
 * The registry's SQL, and nothing else: no validation, no rules. This is the seam a PostgreSQL backend
 * replaces. Every statement is prepared once, because credentials() and homeAt() run for every CONNECT
 * and every message.
 */

interface HomeRow {
  id: string;
  team_id: string;
  time_zone: string;
  created_at: string;
}

interface DeviceRow {
  id: string;
  kind: string;
  model: string;
  adapter_id: string;
  enabled: number;
  created_at: string;
  secret_rotated_at: string | null;
  home_id: string | null;
}

interface AssignmentRow {
  home_id: string;
  valid_from: string;
  valid_to: string | null;
}

interface ChildRow {
  bridge_id: string;
  friendly_name: string;
  device_id: string;
}

interface ServiceAccountRow {
  id: string;
  team_id: string;
  enabled: number;
  created_at: string;
  secret_rotated_at: string | null;
}

export interface Credentials {
  readonly kind: DeviceKind;
  readonly secretHash: string;
  readonly enabled: boolean;
}

export interface ServiceCredentials {
  readonly teamId: string;
  readonly secretHash: string;
  readonly enabled: boolean;
}

export interface NewServiceAccount {
  id: string;
  teamId: string;
  secretHash: string;
  createdAt: string;
}

export interface NewDevice {
  id: string;
  kind: DeviceKind;
  model: string;
  adapterId: string;
  secretHash: string;
  createdAt: string;
}

const SERVICE_ACCOUNT_SELECT = 'SELECT id, team_id, enabled, created_at, secret_rotated_at FROM service_accounts';

const DEVICE_SELECT = `
  SELECT d.id, d.kind, d.model, d.adapter_id, d.enabled, d.created_at, d.secret_rotated_at, a.home_id
  FROM devices d
  LEFT JOIN device_assignments a ON a.device_id = d.id AND a.valid_to IS NULL`;

export function createSqliteDeviceStore(db: Database) {
  const s = {
    insertHome: db.prepare('INSERT INTO homes (id, team_id, time_zone, created_at) VALUES (?, ?, ?, ?)'),
    getHome: db.prepare<[string], HomeRow>('SELECT * FROM homes WHERE id = ?'),
    listHomes: db.prepare<[], HomeRow>('SELECT * FROM homes ORDER BY id'),

    insertDevice: db.prepare(
      `INSERT INTO devices (id, kind, model, adapter_id, secret_hash, enabled, created_at, secret_rotated_at)
       VALUES (@id, @kind, @model, @adapterId, @secretHash, 1, @createdAt, NULL)`,
    ),
    getDevice: db.prepare<[string], DeviceRow>(`${DEVICE_SELECT} WHERE d.id = ?`),
    listDevices: db.prepare<{ kind: string | null; homeId: string | null }, DeviceRow>(
      `${DEVICE_SELECT}
       WHERE (@kind IS NULL OR d.kind = @kind) AND (@homeId IS NULL OR a.home_id = @homeId)
       ORDER BY d.id`,
    ),
    credentials: db.prepare<[string], { kind: string; secret_hash: string; enabled: number }>(
      'SELECT kind, secret_hash, enabled FROM devices WHERE id = ?',
    ),
    setEnabled: db.prepare('UPDATE devices SET enabled = ? WHERE id = ?'),
    setAdapter: db.prepare('UPDATE devices SET adapter_id = ? WHERE id = ?'),
    setSecretHash: db.prepare('UPDATE devices SET secret_hash = ?, secret_rotated_at = ? WHERE id = ?'),

    openAssignment: db.prepare<[string], AssignmentRow>(
      'SELECT home_id, valid_from, valid_to FROM device_assignments WHERE device_id = ? AND valid_to IS NULL',
    ),
    // valid_to >= valid_from is a CHECK, so this is the latest instant in the device's history.
    lastAssignmentTime: db
      .prepare<[string], string | null>('SELECT max(coalesce(valid_to, valid_from)) FROM device_assignments WHERE device_id = ?')
      .pluck(),
    closeAssignment: db.prepare('UPDATE device_assignments SET valid_to = ? WHERE device_id = ? AND valid_to IS NULL'),
    insertAssignment: db.prepare('INSERT INTO device_assignments (device_id, home_id, valid_from, valid_to) VALUES (?, ?, ?, NULL)'),
    assignments: db.prepare<[string], AssignmentRow>(
      'SELECT home_id, valid_from, valid_to FROM device_assignments WHERE device_id = ? ORDER BY valid_from DESC, id DESC',
    ),
    homeAt: db
      .prepare<[string, string, string], string>(
        `SELECT home_id FROM device_assignments
         WHERE device_id = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)
         ORDER BY valid_from DESC LIMIT 1`,
      )
      .pluck(),

    insertChild: db.prepare('INSERT INTO bridge_children (bridge_id, friendly_name, device_id, created_at) VALUES (?, ?, ?, ?)'),
    childrenOf: db.prepare<[string], ChildRow>(
      'SELECT bridge_id, friendly_name, device_id FROM bridge_children WHERE bridge_id = ? ORDER BY friendly_name',
    ),
    parentOf: db.prepare<[string], ChildRow>('SELECT bridge_id, friendly_name, device_id FROM bridge_children WHERE device_id = ?'),
    childByName: db.prepare<[string, string], ChildRow>(
      'SELECT bridge_id, friendly_name, device_id FROM bridge_children WHERE bridge_id = ? AND friendly_name = ?',
    ),

    insertServiceAccount: db.prepare(
      `INSERT INTO service_accounts (id, team_id, secret_hash, enabled, created_at, secret_rotated_at)
       VALUES (@id, @teamId, @secretHash, 1, @createdAt, NULL)`,
    ),
    getServiceAccount: db.prepare<[string], ServiceAccountRow>(`${SERVICE_ACCOUNT_SELECT} WHERE id = ?`),
    listServiceAccounts: db.prepare<{ teamId: string | null }, ServiceAccountRow>(
      `${SERVICE_ACCOUNT_SELECT} WHERE (@teamId IS NULL OR team_id = @teamId) ORDER BY id`,
    ),
    serviceCredentials: db.prepare<[string], { team_id: string; secret_hash: string; enabled: number }>(
      'SELECT team_id, secret_hash, enabled FROM service_accounts WHERE id = ?',
    ),
    setServiceEnabled: db.prepare('UPDATE service_accounts SET enabled = ? WHERE id = ?'),
    setServiceSecretHash: db.prepare('UPDATE service_accounts SET secret_hash = ?, secret_rotated_at = ? WHERE id = ?'),
  };

  return {
    /** Runs fn in an IMMEDIATE transaction: the write lock is taken up front, so check-then-write is safe. */
    transaction<T>(fn: () => T): T {
      return db.transaction(fn).immediate();
    },

    insertHome(home: Home): void {
      s.insertHome.run(home.id, home.teamId, home.timeZone, home.createdAt);
    },
    getHome(id: string): Home | undefined {
      const row = s.getHome.get(id);
      return row && toHome(row);
    },
    listHomes(): Home[] {
      return s.listHomes.all().map(toHome);
    },

    insertDevice(device: NewDevice): void {
      // Picked explicitly so that whatever else a caller passes (e.g. homeId) never reaches SQL by accident.
      const { id, kind, model, adapterId, secretHash, createdAt } = device;
      s.insertDevice.run({ id, kind, model, adapterId, secretHash, createdAt });
    },
    getDevice(id: string): Device | undefined {
      const row = s.getDevice.get(id);
      return row && toDevice(row);
    },
    listDevices(filter: { kind?: string | undefined; homeId?: string | undefined }): Device[] {
      return s.listDevices.all({ kind: filter.kind ?? null, homeId: filter.homeId ?? null }).map(toDevice);
    },
    credentials(id: string): Credentials | undefined {
      const row = s.credentials.get(id);
      return row && { kind: row.kind as DeviceKind, secretHash: row.secret_hash, enabled: row.enabled === 1 };
    },
    /** Returns false when no such device exists. */
    setAdapter(id: string, adapterId: string): boolean {
      return s.setAdapter.run(adapterId, id).changes > 0;
    },
    setEnabled(id: string, enabled: boolean): boolean {
      return s.setEnabled.run(enabled ? 1 : 0, id).changes > 0;
    },
    setSecretHash(id: string, secretHash: string, at: string): boolean {
      return s.setSecretHash.run(secretHash, at, id).changes > 0;
    },

    openAssignment(deviceId: string): Assignment | undefined {
      const row = s.openAssignment.get(deviceId);
      return row && toAssignment(row);
    },
    lastAssignmentTime(deviceId: string): string | undefined {
      return s.lastAssignmentTime.get(deviceId) ?? undefined;
    },
    closeAssignment(deviceId: string, at: string): void {
      s.closeAssignment.run(at, deviceId);
    },
    openNewAssignment(deviceId: string, homeId: string, at: string): void {
      s.insertAssignment.run(deviceId, homeId, at);
    },
    assignments(deviceId: string): Assignment[] {
      return s.assignments.all(deviceId).map(toAssignment);
    },
    homeAt(deviceId: string, at: string): string | undefined {
      return s.homeAt.get(deviceId, at, at);
    },

    insertChild(child: BridgeChild, at: string): void {
      s.insertChild.run(child.bridgeId, child.friendlyName, child.deviceId, at);
    },
    childrenOf(bridgeId: string): BridgeChild[] {
      return s.childrenOf.all(bridgeId).map(toChild);
    },
    parentOf(deviceId: string): BridgeChild | undefined {
      const row = s.parentOf.get(deviceId);
      return row && toChild(row);
    },
    childByName(bridgeId: string, friendlyName: string): BridgeChild | undefined {
      const row = s.childByName.get(bridgeId, friendlyName);
      return row && toChild(row);
    },

    insertServiceAccount(account: NewServiceAccount): void {
      const { id, teamId, secretHash, createdAt } = account;
      s.insertServiceAccount.run({ id, teamId, secretHash, createdAt });
    },
    getServiceAccount(id: string): ServiceAccount | undefined {
      const row = s.getServiceAccount.get(id);
      return row && toServiceAccount(row);
    },
    listServiceAccounts(filter: { teamId?: string | undefined }): ServiceAccount[] {
      return s.listServiceAccounts.all({ teamId: filter.teamId ?? null }).map(toServiceAccount);
    },
    serviceCredentials(id: string): ServiceCredentials | undefined {
      const row = s.serviceCredentials.get(id);
      return row && { teamId: row.team_id, secretHash: row.secret_hash, enabled: row.enabled === 1 };
    },
    /** Returns false when no such service account exists. */
    setServiceEnabled(id: string, enabled: boolean): boolean {
      return s.setServiceEnabled.run(enabled ? 1 : 0, id).changes > 0;
    },
    setServiceSecretHash(id: string, secretHash: string, at: string): boolean {
      return s.setServiceSecretHash.run(secretHash, at, id).changes > 0;
    },
  };
}

export type DeviceStore = ReturnType<typeof createSqliteDeviceStore>;

function toHome(row: HomeRow): Home {
  return { id: row.id, teamId: row.team_id, timeZone: row.time_zone, createdAt: row.created_at };
}

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    // The column's CHECK constraint admits only DeviceKind values.
    kind: row.kind as DeviceKind,
    model: row.model,
    adapterId: row.adapter_id,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    secretRotatedAt: row.secret_rotated_at,
    homeId: row.home_id,
  };
}

function toAssignment(row: AssignmentRow): Assignment {
  return { homeId: row.home_id, validFrom: row.valid_from, validTo: row.valid_to };
}

function toServiceAccount(row: ServiceAccountRow): ServiceAccount {
  return {
    id: row.id,
    teamId: row.team_id,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    secretRotatedAt: row.secret_rotated_at,
  };
}

function toChild(row: ChildRow): BridgeChild {
  return { bridgeId: row.bridge_id, friendlyName: row.friendly_name, deviceId: row.device_id };
}
