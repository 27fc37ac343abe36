import fc from 'fast-check';
import { canonicalLabels, LABEL_KEYS } from './labels.js';

describe('canonicalLabels', () => {
  it('orders keys actor, model, queue, bucket, code whatever order they come in', () => {
    const result = canonicalLabels({ code: 'METRICS_PERSIST_FAILED', actor: 'ingest' });
    expect(result).toEqual({
      ok: true,
      value: { labels: { actor: 'ingest', code: 'METRICS_PERSIST_FAILED' }, labelsKey: 'actor:ingest|code:METRICS_PERSIST_FAILED' },
    });
    const all = canonicalLabels({ bucket: 'b', code: 'c', queue: 'q', model: 'm', actor: 'a' });
    expect(all.ok && all.value.labelsKey).toBe('actor:a|model:m|queue:q|bucket:b|code:c');
    expect(all.ok && Object.keys(all.value.labels)).toEqual(['actor', 'model', 'queue', 'bucket', 'code']);
  });

  it('gives the empty key for no labels', () => {
    expect(canonicalLabels(undefined)).toEqual({ ok: true, value: { labels: {}, labelsKey: '' } });
    expect(canonicalLabels({})).toEqual({ ok: true, value: { labels: {}, labelsKey: '' } });
  });

  it('rejects an unknown key instead of dropping it', () => {
    const result = canonicalLabels({ actor: 'a', region: 'eu' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/unknown label "region"/);
  });

  it('rejects values that are not strings of 1 to 128 characters, and labels that are not an object', () => {
    for (const labels of [{ actor: '' }, { actor: 'x'.repeat(129) }, { actor: 3 }, { actor: null }, ['actor'], 'actor:a']) {
      expect(canonicalLabels(labels).ok).toBe(false);
    }
    expect(canonicalLabels({ actor: 'x'.repeat(128) }).ok).toBe(true);
  });

  it('escapes | and \\ so that a value cannot forge another label set', () => {
    const forged = canonicalLabels({ actor: 'a|code:b' });
    const real = canonicalLabels({ actor: 'a', code: 'b' });
    expect(forged.ok && forged.value.labelsKey).toBe('actor:a\\|code:b');
    expect(real.ok && real.value.labelsKey).toBe('actor:a|code:b');
  });

  it('maps different label sets to different keys (property)', () => {
    const labelSet = fc.dictionary(
      fc.constantFrom(...LABEL_KEYS),
      fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom('a', '|', '\\', ':') }),
    );
    fc.assert(
      fc.property(labelSet, labelSet, (a, b) => {
        const ka = canonicalLabels(a);
        const kb = canonicalLabels(b);
        const same = LABEL_KEYS.every((k) => a[k] === b[k]);
        return ka.ok && kb.ok && (ka.value.labelsKey === kb.value.labelsKey) === same;
      }),
    );
  });
});
