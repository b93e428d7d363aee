// Types for cluster.mjs (plain JS so the soak script can use it too).
export const PG_BIN: string
export function runPgBinary(
  binary: string,
  args: string[],
  options?: { timeout?: number },
): Promise<{ stdout: string; stderr: string }>
export function freePort(from?: number, to?: number): Promise<number>
export function privateDir(prefix: string): string

export interface PrivateCluster {
  port: number
  dataDir: string
  logFile: string
  /** Superuser URL of a database on this cluster. */
  url(database?: string, user?: string): string
  readonly running: boolean
  start(): Promise<void>
  stop(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>
  restart(options?: { mode?: 'smart' | 'fast' | 'immediate'; downMs?: number }): Promise<void>
  destroy(): Promise<void>
}

export function startPrivateCluster(options?: { port?: number; settings?: string[] }): Promise<PrivateCluster>
