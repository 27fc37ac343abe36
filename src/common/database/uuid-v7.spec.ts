import { uuidV7, uuidV7Run } from './uuid-v7.js';

describe('uuidV7', () => {
  it('puts the milliseconds in the first 48 bits, version 7 and the RFC variant in their places', () => {
    // 2026-03-02T00:00:00.123Z = 1772409600123 ms = 0x019c_abd8_387b
    const id = uuidV7(Date.parse('2026-03-02T00:00:00.123Z'));
    expect(id).toMatch(/^019cabd8-387b-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('orders ids of later milliseconds after earlier ones', () => {
    const ids = [1_000, 2_000, 1_772_409_600_123].map((ms) => uuidV7(ms));
    expect([...ids].sort()).toEqual(ids);
    expect(uuidV7(1_000)).not.toBe(uuidV7(1_000));
  });
});

describe('uuidV7Run', () => {
  it('gives a v7 prefix and a counter start whose 12 hex digits cannot carry into the prefix', () => {
    for (let i = 0; i < 100; i++) {
      const { prefix, start } = uuidV7Run(Date.parse('2026-03-02T00:00:00.123Z'));
      expect(prefix).toMatch(/^019cabd8-387b-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-$/);
      expect(Number.isInteger(start) && start >= 0 && start < 2 ** 47).toBe(true);
      const last = `${prefix}${(start + 1_000_000).toString(16).padStart(12, '0')}`;
      expect(last).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });
});
