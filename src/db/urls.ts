// Connection-string rules: Neon's pooled/direct convention, channel binding, and redaction.

/** A Neon pooled endpoint has `-pooler` in the first label of its host name. */
export function isNeonPooledUrl(url: string): boolean {
  return /^[^.]*-pooler(\.|$)/.test(parseUrl(url).hostname)
}

/** Looks like a transaction-mode pooler: a Neon `-pooler` host, or PgBouncer's usual port 6432. */
export function looksPooled(url: string): boolean {
  return isNeonPooledUrl(url) || parseUrl(url).port === '6432'
}

/** Neon: the direct endpoint is the pooled host without `-pooler`. Other URLs are returned unchanged. */
export function deriveDirectUrl(url: string): string {
  if (!isNeonPooledUrl(url)) return url
  const u = parseUrl(url)
  u.hostname = u.hostname.replace(/^([^.]*)-pooler/, '$1')
  return u.toString()
}

/** The URL with its password replaced by `***`, safe for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|key/i.test(key)) u.searchParams.set(key, '***')
    }
    return u.toString()
  } catch {
    return '<unparsable database URL>'
  }
}

export interface PgUrlOptions {
  connectionString: string
  /** node-postgres does not read `channel_binding` from the URL; it needs this flag. */
  enableChannelBinding: boolean
}

/**
 * Splits the options node-postgres does not read from a URL out of it.
 * `sslmode=require` is left in place: node-postgres treats it as `verify-full`
 * (certificate and host name checked), which is what we want on Neon.
 */
export function pgUrlOptions(url: string): PgUrlOptions {
  const u = parseUrl(url)
  const channelBinding = u.searchParams.get('channel_binding')
  u.searchParams.delete('channel_binding')
  return { connectionString: u.toString(), enableChannelBinding: channelBinding === 'require' }
}

export function parseUrl(url: string): URL {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new TypeError(`database URL is not a valid URL: ${redactUrl(url)}`)
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new TypeError(`database URL must start with postgres:// or postgresql://, got ${u.protocol}//`)
  }
  return u
}
