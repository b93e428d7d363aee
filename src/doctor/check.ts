// One finding of `doctor`: a named check, its outcome, what was seen, and how to fix it.

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip'

export interface Check {
  /** Stable name, e.g. `sslmode (app)`: scripts may match on it. */
  id: string
  status: CheckStatus
  message: string
  /** What to change; present for warn and fail. */
  fix?: string
}

export const ok = (id: string, message: string, fix?: string): Check => ({ id, status: 'ok', message, fix })
export const warn = (id: string, message: string, fix: string): Check => ({
  id,
  status: 'warn',
  message,
  fix,
})
export const fail = (id: string, message: string, fix: string): Check => ({
  id,
  status: 'fail',
  message,
  fix,
})
export const skip = (id: string, message: string): Check => ({ id, status: 'skip', message })

/** Removes every password of `urls` from a message (driver errors may quote what they were given). */
export function scrub(message: string, urls: ReadonlyArray<string | undefined>): string {
  let out = message
  for (const url of urls) {
    if (!url) continue
    let raw = ''
    try {
      raw = new URL(url).password // as written in the URL (percent-encoded)
    } catch {
      continue
    }
    let decoded = raw
    try {
      decoded = decodeURIComponent(raw)
    } catch {}
    for (const secret of new Set([raw, decoded])) {
      if (secret.length > 0) out = out.split(secret).join('***')
    }
  }
  return out
}
