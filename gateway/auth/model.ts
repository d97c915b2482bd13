import { z } from 'zod';
import { TeamIdSchema } from '../devices/ids.js';

// Dashboard users (issue 6 item 2). A user's id is the opaque, stable pseudonym that logs, the audit log and
// alert timelines carry (`u-3f9c0a1b2d4e`); the username is what the person types at login and may be an
// employee number; the display name is personal data shown only in the dashboard, never logged.

const IsoTime = z.iso.datetime();

export const ROLES = ['nurse', 'team_lead', 'technician', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

export const USER_ID_PATTERN = /^u-[0-9a-f]{12}$/;
export const UserIdSchema = z.string().regex(USER_ID_PATTERN, { error: 'user id must look like u-0123456789ab' });

/** Case-insensitive and unique (the database compares with NOCASE); ASCII so that case folding is unambiguous. */
export const UsernameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/, {
  error: "username must be 3–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
});

export const DisplayNameSchema = z
  .string()
  .trim()
  .min(1, { error: 'display name must not be empty' })
  .max(100, { error: 'display name must be at most 100 characters' })
  .regex(/^[^\p{Cc}]+$/u, { error: 'display name must not contain control characters' });

/**
 * NIST SP 800-63B-4 §3.1.1.2: at least 15 characters for a password that is the only factor; long passphrases
 * are allowed and nothing else is imposed (no composition rules). Generated passwords are 23 characters.
 */
export const PasswordSchema = z
  .string()
  .min(15, { error: 'password must be at least 15 characters' })
  .max(256, { error: 'password must be at most 256 characters' });

export const UserSchema = z.object({
  id: UserIdSchema,
  username: UsernameSchema,
  displayName: z.string(),
  role: RoleSchema,
  /** Teams whose homes and alerts the user may see; an admin sees every team whatever is listed. */
  teams: z.array(TeamIdSchema),
  enabled: z.boolean(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  passwordChangedAt: IsoTime,
});
export type User = z.infer<typeof UserSchema>;

export const NewUserSchema = z
  .object({
    username: UsernameSchema,
    displayName: DisplayNameSchema.optional(),
    role: RoleSchema,
    teams: z.array(TeamIdSchema).default([]),
  })
  .refine((u) => u.role === 'admin' || u.teams.length > 0, {
    error: 'a user who is not an admin needs at least one team',
    path: ['teams'],
  });
export type NewUser = z.input<typeof NewUserSchema>;

/** What the API tells the dashboard about the logged-in user. */
export const SessionUserSchema = UserSchema.pick({ id: true, username: true, displayName: true, role: true, teams: true });
export type SessionUser = z.infer<typeof SessionUserSchema>;

export const AUTH_ERROR_CODES = [
  'TRY_ERR_USER_INVALID_INPUT',
  'TRY_ERR_USER_EXISTS',
  'TRY_ERR_USER_NOT_FOUND',
  'TRY_ERR_AUTH_STORAGE',
] as const;
export type AuthErrorCode = (typeof AUTH_ERROR_CODES)[number];

/** Expected failures of the user store (CLI and API key on the code). */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function parseOrFail<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw new AuthError('TRY_ERR_USER_INVALID_INPUT', `${field === '' ? '' : `${field}: `}${issue?.message ?? 'invalid input'}`);
}
