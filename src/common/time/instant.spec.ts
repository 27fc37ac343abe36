import { parseInstant } from './instant.js';

describe('parseInstant', () => {
  // jest.config.js runs the tests in America/New_York, where `new Date('2025-04-01T10:00:00')` is 14:00Z.
  it('runs in a time zone other than UTC (the premise of the cases below)', () => {
    expect(new Date('2025-04-01T10:00:00').toISOString()).toBe('2025-04-01T14:00:00.000Z');
  });

  it.each([
    ['2025-04-01T10:00:00Z', '2025-04-01T10:00:00.000Z'],
    ['2025-04-01T12:00:00+02:00', '2025-04-01T10:00:00.000Z'],
    // No offset: UTC, whatever the server's time zone.
    ['2025-04-01T10:00:00', '2025-04-01T10:00:00.000Z'],
    ['2025-04-01T10:00:00.250', '2025-04-01T10:00:00.250Z'],
    ['2025-04-01T10:00', '2025-04-01T10:00:00.000Z'],
    ['2025-04-01 10:00:00', '2025-04-01T10:00:00.000Z'],
    ['2025-04-01', '2025-04-01T00:00:00.000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseInstant(text)?.toISOString()).toBe(iso);
  });

  it('gives undefined for a text that is no date', () => {
    expect(parseInstant('2025-W14')).toBeUndefined();
    expect(parseInstant('yesterday')).toBeUndefined();
  });
});
