// Settings of protection.ts from the environment, apart from the plugins so the command line can
// read them without loading Fastify.

export interface RateLimitOptions {
  /** Requests per key (or per address, without a key) and window. */
  max: number
  /** Window length in ms (default 60 s). */
  timeWindowMs?: number
}

/** The rate limit from the environment: ROBOT_BRAIN_RATE_LIMIT (0: off) per ROBOT_BRAIN_RATE_LIMIT_WINDOW_MS. */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv = process.env): RateLimitOptions | false {
  const max = intFromEnv(env, 'ROBOT_BRAIN_RATE_LIMIT', 60_000)
  const timeWindowMs = intFromEnv(env, 'ROBOT_BRAIN_RATE_LIMIT_WINDOW_MS', 60_000)
  if (timeWindowMs < 1) throw new RangeError('ROBOT_BRAIN_RATE_LIMIT_WINDOW_MS must be a positive integer')
  return max === 0 ? false : { max, timeWindowMs }
}

/** ROBOT_BRAIN_CORS_ORIGINS: comma-separated origins (https://app.example.com); none: CORS off. */
export function corsOriginsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.ROBOT_BRAIN_CORS_ORIGINS?.trim()
  if (!raw) return []
  return raw.split(',').map((o) => {
    const origin = o.trim()
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new RangeError(`ROBOT_BRAIN_CORS_ORIGINS: "${origin}" is not an origin (https://host[:port])`)
    }
    if (url.origin !== origin) {
      throw new RangeError(
        `ROBOT_BRAIN_CORS_ORIGINS: "${origin}" is not an origin; did you mean "${url.origin}"?`,
      )
    }
    return origin
  })
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new RangeError(`${name} must be a non-negative integer, got "${raw}"`)
  return Number(raw)
}
