// Which parts of an outgoing request are credentials, so that everything received in answer can be scrubbed of them
// (scrubText / scrubBytes / boundedFetch's `secrets`): a remote party that echoes our token must not get it into an
// error, a log, a journal or a receipt.

/** Header names whose values are credentials (matched case-insensitively anywhere in the name). */
export const CREDENTIAL_HEADER = /auth|cookie|token|secret|key|passw|credential|session|signature/i;

function decodeBase64(text: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
  } catch {
    return '';
  }
}

/** The credential forms of one header value: the value, the part after an auth scheme, a Basic pair decoded. */
function forms(value: string): string[] {
  const out = [value];
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s+(\S.*)$/.exec(value.trim());
  if (!m) return out;
  const [, scheme, credential] = m as unknown as [string, string, string];
  out.push(credential);
  if (scheme.toLowerCase() === 'basic') {
    const pair = decodeBase64(credential);
    const colon = pair.indexOf(':');
    if (colon > 0) out.push(pair, pair.slice(colon + 1));
  }
  return out;
}

/**
 * The secrets a request carries: the values of its credential headers (CREDENTIAL_HEADER; all of them with
 * `allHeaders`, for configured header sets documented as secret) in every form an echo may take, and the password
 * of URL user info. Strings shorter than 4 characters are left out (scrubbing them would mangle ordinary text).
 */
export function requestSecrets(
  headers?: Readonly<Record<string, string>> | Headers,
  url?: URL | string,
  o: { allHeaders?: boolean } = {},
): string[] {
  const entries: [string, string][] = [];
  if (headers instanceof Headers) headers.forEach((value, name) => entries.push([name, value]));
  else entries.push(...Object.entries(headers ?? {}));
  const out = new Set<string>();
  for (const [name, value] of entries)
    if (o.allHeaders || CREDENTIAL_HEADER.test(name)) for (const f of forms(value)) out.add(f);
  if (url !== undefined) {
    let u: URL | undefined;
    try {
      u = typeof url === 'string' ? new URL(url) : url;
    } catch {
      u = undefined;
    }
    if (u?.password) {
      out.add(u.password);
      out.add(decodeURIComponent(u.password));
    }
  }
  return [...out].filter((s) => s.length >= 4);
}
