// Shared plumbing of the commands: opening a store from flags + environment, output, exit codes.
import { DRIVERS, optionsFromEnv, type StoreOptions } from '../config.js'
import { explainOwnerError } from '../db/owner-check.js'
import { RobotBrainError } from '../errors.js'
import { openStore, type Store } from '../store/store.js'

/** Exit codes: 0 success, 1 failure, 2 usage error. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const

/** Thrown by a command for a usage error (exit 2). */
export class UsageError extends Error {}

/** Options every database command accepts. */
export interface DbFlags {
  url?: string
  dataDir?: string
  driver?: string
}

export function storeOptions(flags: DbFlags): StoreOptions {
  if (flags.driver !== undefined && !(DRIVERS as readonly string[]).includes(flags.driver)) {
    throw new UsageError(`--driver must be one of ${DRIVERS.join(', ')}, got "${flags.driver}"`)
  }
  const env = optionsFromEnv()
  return {
    ...env,
    url: flags.url ?? env.url,
    dataDir: flags.dataDir ?? env.dataDir,
    driver: (flags.driver as StoreOptions['driver']) ?? env.driver,
  }
}

/**
 * Opens the store for a command, runs `fn`, always closes. A "permission denied" met because the
 * owner connection logs in as the application's role becomes a message naming the fix.
 */
export async function withStore<T>(flags: DbFlags, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(storeOptions(flags))
  try {
    return await fn(store)
  } catch (err) {
    throw await explainOwnerError(err, store.transport.owner)
  } finally {
    await store.close()
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** A message for the terminal: our typed errors as they are, others with their SQLSTATE when known. */
export function errorMessage(err: unknown): string {
  if (err instanceof RobotBrainError) return err.message
  const e = err as { code?: string; message?: string }
  return e?.code && /^[0-9A-Z]{5}$/.test(e.code)
    ? `${e.message} (SQLSTATE ${e.code})`
    : (e?.message ?? String(err))
}
