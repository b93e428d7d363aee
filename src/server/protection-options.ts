// Settings of protection.ts, apart from the plugins so the command line can hold them without loading
// Fastify; config.ts reads them from the environment.

export interface RateLimitOptions {
  /** Requests per key (or per address, without a key) and window. */
  max: number
  /** Window length in ms (default 60 s). */
  timeWindowMs?: number
}
