import { describe, expect, it } from 'vitest';
import { CareError } from '../../../gateway/care/inputs.js';
import { describeWeekdays, maskToWeekdays, parseWeekdays, weekdaysToMask } from '../../../gateway/care/schedule.js';

describe('weekdays', () => {
  it.each([
    ['1-5', [1, 2, 3, 4, 5]],
    ['1,3,5', [1, 3, 5]],
    [' 6-7 , 1 ', [1, 6, 7]],
    ['1-3,2-4', [1, 2, 3, 4]],
    ['7', [7]],
  ])('parses %j', (text, days) => {
    expect(parseWeekdays(text)).toEqual(days);
  });

  it.each(['', '0', '8', '1-8', '5-1', 'mon', '1,,2', '1-2-3'])('refuses %j, naming the field', (text) => {
    expect(() => parseWeekdays(text)).toThrow(CareError);
    expect(() => parseWeekdays(text)).toThrow(/^weekdays: expected ISO weekdays 1–7/);
  });

  it('round-trips through the stored mask', () => {
    expect(weekdaysToMask([1, 2, 3, 4, 5, 6, 7])).toBe(127);
    expect(weekdaysToMask([1])).toBe(1);
    expect(weekdaysToMask([7])).toBe(64);
    for (let mask = 1; mask <= 127; mask++) expect(weekdaysToMask(maskToWeekdays(mask))).toBe(mask);
  });

  it('describes them for humans', () => {
    expect(
      [
        [1, 2, 3, 4, 5, 6, 7],
        [1, 2, 3, 4, 5],
        [6, 7],
        [1, 3, 5],
      ].map(describeWeekdays),
    ).toEqual(['every day', 'Mon–Fri', 'Sat, Sun', 'Mon, Wed, Fri']);
  });
});
