// Strict JSON for attacker-controlled input (I-JSON, RFC 7493): JSON.parse, then a refusal of duplicate object
// keys (§2.3) and of strings with lone surrogates (§2.1), which JSON.parse accepts silently and another parser (or
// RFC 8785 canonicalization) would read differently or refuse.

/**
 * Parses JSON text as I-JSON: refuses an object with a duplicate key (JSON.parse would silently keep the last
 * value; another parser may keep the first) and a string or key with a lone surrogate. `fail` builds the error.
 */
export function parseStrictJson(text: string, fail: (message: string) => Error): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) throw fail(`duplicate key ${JSON.stringify(duplicate)} in a JSON object`);
  const lone = findLoneSurrogate(value, '');
  if (lone !== undefined) throw fail(`a string at ${lone || '(root)'} holds a lone surrogate (not I-JSON)`);
  return value;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The JSON pointer of the first string (or key) with a lone surrogate, or undefined. */
function findLoneSurrogate(v: unknown, at: string): string | undefined {
  if (typeof v === 'string') return LONE_SURROGATE.test(v) ? at : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const hit = findLoneSurrogate(v[i], `${at}/${i}`);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
  if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      const here = `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      if (LONE_SURROGATE.test(k)) return here;
      const hit = findLoneSurrogate(x, here);
      if (hit !== undefined) return hit;
    }
  return undefined;
}

/** The first duplicate object key in already valid JSON text, or undefined. */
function findDuplicateKey(text: string): string | undefined {
  // One frame per open container: the keys seen so far (objects) or null (arrays).
  const frames: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      frames.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      frames.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = frames[frames.length - 1] instanceof Set;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (expectKey) {
        // Decode escapes, so "a" and "\u0061" count as the same key.
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const keys = frames[frames.length - 1] as Set<string>;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
  return undefined;
}
