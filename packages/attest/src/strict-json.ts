// Strict JSON for attacker-controlled input: JSON.parse, then a refusal of duplicate object keys.

/**
 * Parses JSON text and refuses any object with a duplicate key, which JSON.parse would silently resolve to
 * the last value (another parser may pick the first). `fail` builds the error to throw.
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
  return value;
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
