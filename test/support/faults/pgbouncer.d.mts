// Types for pgbouncer.mjs.
export interface PrivatePgBouncer {
  host: string
  port: number
  url(database: string, user?: string): string
  readonly running: boolean
  start(): Promise<void>
  stop(): Promise<void>
  restart(options?: { downMs?: number }): Promise<void>
  destroy(): Promise<void>
}

export function startPrivatePgBouncer(options: {
  targetPort: number
  users?: string[]
  /** Listen port (default 6432). */
  port?: number
}): Promise<PrivatePgBouncer>
