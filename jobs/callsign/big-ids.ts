/**
 * Keeps numeric ids exact: `JSON.parse` turns `"profile_id": 12345678901234567890` into the nearest
 * float64 (…67000), so before parsing, an integer literal of 16 or more digits that is the value of
 * an id key (`profile_id`, `profileId`, `session_id`, …) is quoted, and the id normalises to its
 * exact digits (issue #5: ids as numbers become strings). Other numbers are left as they are.
 */

const ID_KEYS = new Set([
  'profile_id',
  'profileId',
  'session_id',
  'sessionId',
  'collection_id',
  'collectionId',
]);
const LONG_DIGITS = /\d{16}/;

function isNumberChar(c: number): boolean {
  // 0-9 . e E + -
  return (c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45;
}

/** `text` with long integer id values quoted; `text` itself when it holds no 16-digit run. */
export function quoteBigIds(text: string): string {
  if (!LONG_DIGITS.test(text)) return text;
  let out = '';
  let copied = 0;
  let key: string | null = null;
  let afterColon = false;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 ? 2 : 1;
      key = afterColon ? null : text.slice(i + 1, j);
      afterColon = false;
      i = j + 1;
    } else if (c === 58) {
      afterColon = key !== null;
      i++;
    } else if (c === 32 || c === 9 || c === 13 || c === 10) {
      i++;
    } else if (isNumberChar(c)) {
      let j = i + 1;
      while (j < text.length && isNumberChar(text.charCodeAt(j))) j++;
      const literal = text.slice(i, j);
      if (afterColon && key !== null && ID_KEYS.has(key) && /^-?\d{16,}$/.test(literal)) {
        if (!Number.isSafeInteger(Number(literal))) {
          out += `${text.slice(copied, i)}"${literal}"`;
          copied = j;
        }
      }
      key = null;
      afterColon = false;
      i = j;
    } else {
      key = null;
      afterColon = false;
      i++;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}
