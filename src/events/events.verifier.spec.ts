import { isRejection, verifyEvent } from './events.verifier.js';

const now = new Date('2025-04-02T00:00:00Z');
const event = (properties: Record<string, unknown>) => ({ sessionId: 's', type: 'signal', occurredAt: '2025-04-01T00:00:00Z', properties });

describe('verifyEvent properties', () => {
  it('accepts a text that holds a backslash followed by u0000 or ud800 (it is not an escape)', () => {
    for (const text of ['C:\\u0000', 'C:\\ud800', '\\\\\\ud83d']) {
      const result = verifyEvent(event({ path: text }), now);
      expect(isRejection(result)).toBe(false);
      if (!isRejection(result)) expect(JSON.parse(result.properties)).toEqual({ path: text });
    }
  });

  it('rejects a NUL character or a lone surrogate, also after an escaped backslash', () => {
    for (const text of ['a\u0000', 'a\ud800', '\\\u0000', '\\\udc00']) {
      expect(verifyEvent(event({ text }), now)).toMatchObject({ code: 'EVENT_INVALID' });
    }
    expect(verifyEvent(event({ ['k\u0000']: 1 }), now)).toMatchObject({ code: 'EVENT_INVALID' });
  });

  it('accepts a surrogate pair (an emoji)', () => {
    expect(isRejection(verifyEvent(event({ mood: '😀' }), now))).toBe(false);
  });
});
