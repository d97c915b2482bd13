import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditLog } from '../auth/audit.js';
import { DisplayNameSchema, RoleSchema, UserIdSchema, UserSchema, UsernameSchema, type User } from '../auth/model.js';
import { generatePassword } from '../auth/password.js';
import type { UserStore } from '../auth/users.js';
import { TeamIdSchema } from '../devices/ids.js';
import type { Home } from '../devices/model.js';
import { errorResponses, HttpError } from './errors.js';
import { auditFor, authOf } from './scope.js';

// Teams and users (issue 6 item 1). Teams are not records of their own: a team is the id its homes and users
// carry. Everyone sees their own teams with their home ids (a technician needs them to place a device); an
// admin sees every team. User management is for admins, as `tryggheim users add|list|disable|enable`: a new
// login gets a generated password, shown once in the answer (never logged, never in the audit log). Resetting
// a password stays with the CLI (`users reset-password`), where the admin hands it over in person.

export interface TeamRoutesOptions {
  listHomes: () => Home[];
}

const TeamSchema = z.object({
  id: TeamIdSchema,
  /** Ids of the team's homes (opaque; no health data). */
  homes: z.array(z.string()),
});

const UserViewSchema = UserSchema.extend({ lockedUntil: z.iso.datetime().nullable() });

const NewUserBodySchema = z
  .strictObject({
    username: UsernameSchema,
    role: RoleSchema,
    teams: z.array(TeamIdSchema).max(50).default([]),
    displayName: DisplayNameSchema.optional(),
  })
  .refine((u) => u.role === 'admin' || u.teams.length > 0, {
    error: 'a user who is not an admin needs at least one team',
    path: ['teams'],
  });

const UserParamsSchema = z.strictObject({ id: UserIdSchema });
const UsersQuerySchema = z.strictObject({ team: TeamIdSchema.optional() });

export const teamRoutes: FastifyPluginCallbackZod<TeamRoutesOptions & { users: UserStore; audit: AuditLog }> = (app, opts, done) => {
  const view = (u: User) => {
    const locked = opts.users.lockedUntil(u.username);
    return { ...u, lockedUntil: locked === undefined ? null : new Date(locked).toISOString() };
  };

  app.get(
    '/api/v1/teams',
    {
      config: { auth: { permission: 'teams.read' } },
      schema: {
        summary: "The caller's teams (every team for an admin) with their homes' ids",
        tags: ['teams'],
        response: { 200: z.object({ teams: z.array(TeamSchema) }), ...errorResponses },
      },
    },
    (request) => {
      const auth = authOf(request);
      const homes = new Map<string, string[]>();
      for (const h of opts.listHomes()) homes.set(h.teamId, [...(homes.get(h.teamId) ?? []), h.id]);
      const ids = auth.scope === '*' ? new Set([...homes.keys(), ...opts.users.list().flatMap((u) => u.teams)]) : new Set(auth.scope);
      return { teams: [...ids].sort().map((id) => ({ id, homes: homes.get(id) ?? [] })) };
    },
  );

  app.get(
    '/api/v1/users',
    {
      config: { auth: { permission: 'users.manage' } },
      schema: {
        summary: 'Every login: role, teams, enabled, locked out',
        tags: ['users'],
        querystring: UsersQuerySchema,
        response: { 200: z.object({ users: z.array(UserViewSchema) }), ...errorResponses },
      },
    },
    (request) => {
      const team = request.query.team;
      const users = opts.users.list().filter((u) => team === undefined || u.teams.includes(team));
      auditFor(opts.audit, authOf(request), 'user.list', 'ok', { targetType: 'team', targetId: team ?? null, teamId: team ?? null });
      return { users: users.map(view) };
    },
  );

  app.post(
    '/api/v1/users',
    {
      config: { auth: { permission: 'users.manage' } },
      schema: {
        summary: 'Create a login; its generated password is in this answer only',
        tags: ['users'],
        body: NewUserBodySchema,
        response: {
          200: z.object({
            user: UserViewSchema,
            password: z.string(),
            /** Teams named that no home belongs to yet: a new team, or a misspelt one. */
            teamsWithoutHomes: z.array(z.string()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const auth = authOf(request);
      const b = request.body;
      const password = generatePassword();
      let user: User;
      try {
        user = await opts.users.add({ username: b.username, role: b.role, teams: b.teams, displayName: b.displayName }, password);
      } catch (err) {
        auditFor(opts.audit, auth, 'user.add', 'failed', { targetType: 'user', detail: { role: b.role } });
        throw err;
      }
      auditFor(opts.audit, auth, 'user.add', 'ok', { targetType: 'user', targetId: user.id, detail: { role: user.role } });
      const known = new Set(opts.listHomes().map((h) => h.teamId));
      return { user: view(user), password, teamsWithoutHomes: user.teams.filter((t) => !known.has(t)) };
    },
  );

  function setEnabled(request: FastifyRequest, id: string, enabled: boolean) {
    const auth = authOf(request);
    const action = enabled ? 'user.enable' : 'user.disable';
    const target = opts.users.get(id);
    if (target === undefined) {
      auditFor(opts.audit, auth, action, 'failed', { targetType: 'user', targetId: id, detail: { code: 'TRY_ERR_NOT_FOUND' } });
      throw new HttpError('TRY_ERR_NOT_FOUND');
    }
    if (!enabled && target.id === auth.actorId) {
      auditFor(opts.audit, auth, action, 'failed', { targetType: 'user', targetId: id, detail: { code: 'TRY_ERR_CANNOT_DISABLE_SELF' } });
      throw new HttpError('TRY_ERR_CANNOT_DISABLE_SELF');
    }
    const user = opts.users.setEnabled(target.username, enabled);
    auditFor(opts.audit, auth, action, 'ok', { targetType: 'user', targetId: user.id });
    return { user: view(user) };
  }

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    app.post(
      `/api/v1/users/:id/${name}`,
      {
        config: { auth: { permission: 'users.manage' } },
        schema: {
          summary: enabled ? 'Let the user log in again' : 'Refuse the user at once: no new logins, open sessions end',
          tags: ['users'],
          params: UserParamsSchema,
          response: { 200: z.object({ user: UserViewSchema }), ...errorResponses },
        },
      },
      (request) => setEnabled(request, request.params.id, enabled),
    );
  }

  done();
};
