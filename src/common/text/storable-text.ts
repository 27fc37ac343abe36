/**
 * PostgreSQL's text and jsonb refuse NUL characters, and the driver would silently replace an
 * unpaired surrogate: texts holding either are refused before they reach the database, by
 * ingestion per event and by the JSON body check for every other route.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/**
 * A `\u0000` or `\ud800`–`\udfff` escape in JSON text, preceded by an even number of backslashes
 * (a text holding a backslash followed by `u0000` is written `\\u0000` and is fine): the only way
 * such a character gets into JSON text, whether parsed from a request or written by JSON.stringify.
 */
export const UNSTORABLE_JSON_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/i;
