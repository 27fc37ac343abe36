/**
 * Labels of an operational metric: the one place they are validated and their canonical
 * `labels_key` is computed. Keys come from a fixed list (the seed's grouping keys plus `code`);
 * the key lists them in that order, `actor:ingest|code:METRICS_PERSIST_FAILED`, empty without labels.
 */
export const LABEL_KEYS = ['actor', 'model', 'queue', 'bucket', 'code'] as const;
export type LabelKey = (typeof LABEL_KEYS)[number];
export type Labels = Partial<Record<LabelKey, string>>;

export const LABEL_VALUE_MAX_LENGTH = 128;

export interface CanonicalLabels {
  /** The same labels with keys in canonical order. */
  labels: Labels;
  labelsKey: string;
}

export type LabelsResult = { ok: true; value: CanonicalLabels } | { ok: false; message: string };

/**
 * Validates labels and returns their canonical form. An unknown key is an error, never dropped.
 * A value's `\` and `|` are escaped in the key (`\\`, `\|`), so two different label sets never
 * share a key.
 */
export function canonicalLabels(input: unknown): LabelsResult {
  if (input === undefined || input === null) return { ok: true, value: { labels: {}, labelsKey: '' } };
  if (typeof input !== 'object' || Array.isArray(input)) return { ok: false, message: 'labels must be an object of strings' };
  const record = input as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(LABEL_KEYS as readonly string[]).includes(key));
  if (unknown.length) {
    return { ok: false, message: `unknown label ${unknown.map((k) => `"${k}"`).join(', ')}; labels may be ${LABEL_KEYS.join(', ')}` };
  }
  const labels: Labels = {};
  const parts: string[] = [];
  for (const key of LABEL_KEYS) {
    if (!(key in record)) continue;
    const value = record[key];
    if (typeof value !== 'string' || value.length < 1 || value.length > LABEL_VALUE_MAX_LENGTH) {
      return { ok: false, message: `label "${key}" must be a string of 1 to ${LABEL_VALUE_MAX_LENGTH} characters` };
    }
    labels[key] = value;
    parts.push(`${key}:${value.replace(/\\/g, '\\\\').replace(/\|/g, '\\|')}`);
  }
  return { ok: true, value: { labels, labelsKey: parts.join('|') } };
}
