import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';

// Configuration comes from, in rising priority: the schema's defaults, a YAML file (JSON is valid YAML, so a
// .json file works too) named by --config or TRYGGHEIM_CONFIG, and TRYGGHEIM_* environment variables
// (`__` separates levels, words are UPPER_SNAKE: TRYGGHEIM_BROKER__TCP__PORT=1884). Every problem is
// reported at once, each with its path; the result is deeply frozen.

export const ENV_PREFIX = 'TRYGGHEIM_';
const CONFIG_FILE_ENV = 'TRYGGHEIM_CONFIG';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** Path of a YAML/JSON config file; falls back to $TRYGGHEIM_CONFIG. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values that win over file and environment (used by tests and the demo). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  const file = opts.file ?? env[CONFIG_FILE_ENV];
  let fromFile: unknown = {};
  if (file !== undefined && file !== '') {
    fromFile = readConfigFile(file, problems);
  }
  const fromEnv = configFromEnv(env, problems);
  const merged = deepMerge(deepMerge(isPlainObject(fromFile) ? fromFile : {}, fromEnv), opts.overrides ?? {});

  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) problems.push(...parsed.error.issues.map(formatIssue));
  // Checked on the raw input so that they are reported together with schema problems, not after them.
  problems.push(...checkTls(merged));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return deepFreeze(parsed.data);
}

function readConfigFile(file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`config file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    return {};
  }
  try {
    const value: unknown = parseYaml(text);
    if (value === null || value === undefined) return {};
    if (!isPlainObject(value)) {
      problems.push(`config file ${file}: the top level must be a mapping`);
      return {};
    }
    return value;
  } catch (err) {
    problems.push(`config file ${file}: ${(err as Error).message.split('\n')[0] ?? 'not valid YAML'}`);
    return {};
  }
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${path === '(root)' ? k : `${path}.${k}`}: unknown setting`).join('\n  ');
  }
  return `${path}: ${issue.message}`;
}

function checkTls(raw: Record<string, unknown>): string[] {
  const broker = raw.broker;
  const tls = isPlainObject(broker) ? broker.tls : undefined;
  if (!isPlainObject(tls)) return [];
  const out: string[] = [];
  for (const key of ['certFile', 'keyFile', 'caFile'] as const) {
    const f = tls[key];
    if (typeof f === 'string' && f !== '' && !existsSync(resolve(f))) out.push(`broker.tls.${key}: file not found (${f})`);
  }
  const has = (k: string): boolean => typeof tls[k] === 'string' && tls[k] !== '';
  if (has('certFile') !== has('keyFile')) {
    out.push(`broker.tls.${has('certFile') ? 'keyFile' : 'certFile'}: certFile and keyFile must be set together`);
  }
  return out;
}

/** Builds a partial config object from TRYGGHEIM_* variables, typed by the schema's leaves. */
export function configFromEnv(env: NodeJS.ProcessEnv, problems: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === CONFIG_FILE_ENV || raw === undefined) continue;
    const parts = name.slice(ENV_PREFIX.length).split('__');
    let schema: z.ZodType | undefined = ConfigSchema;
    const path: string[] = [];
    for (const part of parts) {
      const shape = objectShape(schema);
      const key = shape ? Object.keys(shape).find((k) => k.toLowerCase() === part.replaceAll('_', '').toLowerCase()) : undefined;
      if (!shape || key === undefined) {
        schema = undefined;
        break;
      }
      path.push(key);
      schema = shape[key];
    }
    if (schema === undefined) {
      problems.push(`${name}: not a known setting`);
      continue;
    }
    setPath(out, path, coerce(schema, raw));
  }
  return out;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = (s as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
    if (def.innerType !== undefined) s = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) s = def.in;
    else return s;
  }
}

function objectShape(schema: z.ZodType | undefined): Record<string, z.ZodType> | undefined {
  if (schema === undefined) return undefined;
  const s = unwrap(schema);
  return s instanceof z.ZodObject ? s.shape : undefined;
}

function coerce(schema: z.ZodType, raw: string): unknown {
  const s = unwrap(schema);
  if (s instanceof z.ZodNumber) {
    const n = Number(raw);
    return raw.trim() === '' || Number.isNaN(n) ? raw : n; // a string makes zod say "expected number, received string"
  }
  if (s instanceof z.ZodBoolean) {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    return raw; // zod names the field and says a boolean was expected
  }
  return raw;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      cur[key] = value;
    } else {
      const next = cur[key];
      if (isPlainObject(next)) cur = next;
      else {
        const created: Record<string, unknown> = {};
        cur[key] = created;
        cur = created;
      }
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const SECRET_KEY = /(password|secret|token|passphrase)$/i;

/** A copy of the config for printing: values of secret-looking keys are masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (SECRET_KEY.test(key) && value !== undefined && value !== '') return '********';
  return value;
}
