// Splits the text of a JSON array into the texts of its elements without parsing the whole, so a
// lease file or `ip -j` output cut at a size cap still yields every element read in full, and one
// malformed element costs only itself (each element is JSON.parse'd by the caller).

export interface SplitJsonArray {
  /** Text of each top-level element, in order. */
  items: string[];
  /** Why the text is not one complete, well-formed array (cut short, stray text), or null. */
  problem: string | null;
  /** True when maxItems elements were taken and more followed. */
  more: boolean;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Elements are delimited by scanning strings (with escapes) and bracket depth; an element whose
 * brackets do not match is still cut out and then fails JSON.parse on its own. Empty or
 * whitespace-only text is an empty array.
 */
export function splitJsonArray(text: string, maxItems = Number.POSITIVE_INFINITY): SplitJsonArray {
  const items: string[] = [];
  let i = skipWs(text, 0);
  if (i === text.length) return { items, problem: null, more: false };
  if (text[i] !== "[") return { items, problem: "not a JSON array", more: false };
  i = skipWs(text, i + 1);
  if (text[i] === "]") return finish(text, i + 1, items);
  for (;;) {
    if (items.length >= maxItems) return { items, problem: null, more: true };
    const start = i;
    let depth = 0, inString = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 0x5c) i++;  // backslash: skip the escaped character
        else if (c === 0x22) inString = false;
        continue;
      }
      if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) break;  // the array's own "]"
        depth--;
      } else if (c === 0x2c && depth === 0) break;
    }
    if (i >= text.length) return { items, problem: `ends inside the array after ${items.length} complete elements`, more: false };
    const item = text.slice(start, i).trim();
    if (item === "") return { items, problem: `empty element at offset ${start}`, more: false };
    items.push(item);
    if (text[i] === "]") return finish(text, i + 1, items);
    i = skipWs(text, i + 1);  // past the ","
  }
}

function finish(text: string, i: number, items: string[]): SplitJsonArray {
  const rest = skipWs(text, i);
  return { items, problem: rest < text.length ? `unexpected text after the array at offset ${rest}` : null, more: false };
}
