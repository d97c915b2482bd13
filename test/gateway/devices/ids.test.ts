import { describe, expect, it } from 'vitest';
import { DeviceIdSchema, DeviceKindSchema, FriendlyNameSchema, HomeIdSchema, TeamIdSchema } from '../../../gateway/devices/ids.js';

describe('ids', () => {
  it.each(['d-0001', 'home-0001', 'team-north', 'abc', 'a.b_c-d', '0x00158d0001a2b3c4', 'a'.repeat(64)])('accepts %s', (id) => {
    expect(DeviceIdSchema.safeParse(id).success).toBe(true);
    expect(HomeIdSchema.safeParse(id).success).toBe(true);
    expect(TeamIdSchema.safeParse(id).success).toBe(true);
  });

  it.each(['ab', 'D-0001', '-abc', '.abc', 'a/b/c', 'a+bc', 'a#bc', 'a bc', 'a'.repeat(65), 'navn@example.no', 'dør-1', ''])(
    'rejects %j',
    (id) => {
      expect(DeviceIdSchema.safeParse(id).success).toBe(false);
    },
  );

  it('names the kind of id in the message', () => {
    const result = HomeIdSchema.safeParse('Bad Id');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/^home id must be 3–64 characters/);
  });

  it('knows the five device kinds and the observer (a read-only recorder account)', () => {
    expect(DeviceKindSchema.options).toEqual(['dispenser', 'lock', 'sensor', 'vitals', 'bridge', 'observer']);
    expect(DeviceKindSchema.safeParse('toaster').success).toBe(false);
  });

  it('keeps friendly names topic-safe', () => {
    expect(FriendlyNameSchema.safeParse('0x00158d0001a2b3c4').success).toBe(true);
    for (const bad of ['', 'living/room', 'a+b', 'a#b', 'a b']) expect(FriendlyNameSchema.safeParse(bad).success, bad).toBe(false);
  });
});
