// Branches of the embedded database: a copy of its data directory into `branches/NAME` beside it. The
// copy is made while holding the source's data-directory lock, so no process writes it meanwhile (one
// that has it open makes the command fail, naming it), into a temporary directory renamed into place,
// so a branch is whole or absent. A marker file in the copy tells branches from other directories.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { lockDataDir } from '../db/data-dir-lock.js'
import { BranchError, type Brancher, type BranchInfo, checkBranchName } from './types.js'

const MARKER = 'robot-brain-branch.json'

export class EmbeddedBrancher implements Brancher {
  private readonly dataDir: string
  readonly branchesDir: string

  constructor(dataDir: string) {
    if (dataDir.startsWith('memory://'))
      throw new BranchError('an in-memory database has no directory to branch')
    this.dataDir = resolve(dataDir)
    this.branchesDir = join(dirname(this.dataDir), 'branches')
  }

  private read(dir: string): BranchInfo | null {
    try {
      const mark = JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as { of: string; createdAt: string }
      return {
        name: dir.split(/[\\/]/).pop() as string,
        kind: 'embedded',
        dataDir: dir,
        source: mark.of,
        createdAt: mark.createdAt,
      }
    } catch {
      return null
    }
  }

  async create(name: string, options: { at?: string } = {}): Promise<BranchInfo> {
    checkBranchName(name)
    if (options.at)
      throw new BranchError(
        '--at (a point-in-time branch) needs Neon; the embedded database keeps no history',
      )
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) {
      throw new BranchError(`no embedded database in ${this.dataDir} (run robot-brain-db migrate first)`)
    }
    const target = join(this.branchesDir, name)
    if (existsSync(target)) throw new BranchError(`a branch named "${name}" exists already (${target})`)
    mkdirSync(this.branchesDir, { recursive: true })
    const lock = lockDataDir(this.dataDir) // fails when serve (or any process) has the database open
    const staging = mkdtempSync(join(this.branchesDir, `.${name}-`))
    try {
      cpSync(this.dataDir, staging, { recursive: true })
      const mark = { of: this.dataDir, createdAt: new Date().toISOString() }
      writeFileSync(join(staging, MARKER), `${JSON.stringify(mark)}\n`)
      renameSync(staging, target)
    } catch (err) {
      rmSync(staging, { recursive: true, force: true })
      throw err
    } finally {
      lock.release()
    }
    return this.read(target) as BranchInfo
  }

  async list(): Promise<BranchInfo[]> {
    if (!existsSync(this.branchesDir)) return []
    return readdirSync(this.branchesDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => this.read(join(this.branchesDir, e.name)))
      .filter((b): b is BranchInfo => b !== null && b.source === this.dataDir)
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  async delete(name: string): Promise<void> {
    checkBranchName(name)
    const target = join(this.branchesDir, name)
    const branch = existsSync(target) ? this.read(target) : null
    if (!existsSync(target)) throw new BranchError(`no branch named "${name}" in ${this.branchesDir}`)
    if (!branch)
      throw new BranchError(`${target} is not a branch made by robot-brain-db branch create: left alone`)
    const lock = lockDataDir(target) // fails while a process has the branch open
    try {
      rmSync(target, { recursive: true, force: true })
    } finally {
      lock.release()
    }
  }
}
