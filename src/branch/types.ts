// A branch: a copy of the database to try a migration or a test on, made without touching the source.

export interface BranchInfo {
  name: string
  /** neon: a Neon branch; postgres: a database copied with CREATE DATABASE ... TEMPLATE; embedded: a data directory copy. */
  kind: 'neon' | 'postgres' | 'embedded'
  /** The URL for DATABASE_URL (pooled on Neon when the source URL was), or undefined for embedded. */
  url?: string
  /** The direct URL for DATABASE_URL_UNPOOLED, when it differs from `url`. */
  directUrl?: string
  /** The data directory for ROBOT_BRAIN_DATA_DIR (embedded). */
  dataDir?: string
  /** What it was copied from: a database name, a Neon branch id, a directory. */
  source: string
  createdAt: string | null
  /** Point in time of the source the branch shows (Neon `--at`). */
  at?: string
}

export interface Brancher {
  create(name: string, options?: { at?: string }): Promise<BranchInfo>
  list(): Promise<BranchInfo[]>
  delete(name: string, options?: { force?: boolean }): Promise<void>
}

/** Branch names: what a database name, a directory name and a Neon branch name all accept. */
export const BRANCH_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/

export function checkBranchName(name: string): string {
  if (!BRANCH_NAME.test(name)) {
    throw new BranchError(
      `branch name "${name}" is not valid: 1 to 63 characters, lower-case letters, digits, "_" and "-", starting with a letter or digit`,
    )
  }
  return name
}

export class BranchError extends Error {}
