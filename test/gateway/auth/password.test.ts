import { describe, expect, it } from 'vitest';
import { PasswordSchema } from '../../../gateway/auth/model.js';
import { DEFAULT_SCRYPT_PARAMS, generatePassword, hashPassword, paramsOf, verifyPassword } from '../../../gateway/auth/password.js';

const CHEAP = { ln: 10, r: 8, p: 1 };

describe('password hashing (scrypt)', () => {
  it('stores the production parameters and a per-hash salt in a PHC string, and verifies', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ ln: 15, r: 8, p: 3 });
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(paramsOf(hash)).toEqual(DEFAULT_SCRYPT_PARAMS);
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery staplE', hash)).toBe(false);
  });

  it('salts every hash: the same password twice gives two different hashes that both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same password here', CHEAP), hashPassword('same password here', CHEAP)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password here', a)).toBe(true);
    expect(await verifyPassword('same password here', b)).toBe(true);
  });

  it('normalises Unicode (NFKC): a composed and a decomposed "å" are the same password', async () => {
    const hash = await hashPassword('bl\u00e5b\u00e6rsyltetøy', CHEAP);
    expect(await verifyPassword('bla\u030ab\u00e6rsyltetøy', hash)).toBe(true);
  });

  it('answers false, never throws, for a hash it cannot read or with parameters out of bounds', async () => {
    for (const bad of [
      '',
      'sha256:abc',
      '$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$' + 'A'.repeat(43),
      '$scrypt$ln=15,r=8,p=3$short$short',
    ]) {
      expect(await verifyPassword('anything', bad)).toBe(false);
    }
    await expect(hashPassword('x', { ln: 30, r: 8, p: 1 })).rejects.toThrow(/out of range/);
  });

  it('generates 23-character passwords without look-alike characters that pass the password rule', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toMatch(/^[a-hjkmnp-z2-9]{5}(-[a-hjkmnp-z2-9]{5}){3}$/);
      expect(PasswordSchema.safeParse(p).success).toBe(true);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });
});
