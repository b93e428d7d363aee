// One process at a time per embedded data directory. PGlite does not lock its directory, and two
// processes writing one directory corrupt it. A pid file created with O_EXCL is what PostgreSQL itself
// does (postmaster.pid); a lock held by a process that no longer exists is taken over. Written here
// rather than with proper-lockfile because mtime-based staleness would refuse a restart right after a
// crash for the stale period, and a local pid check answers exactly.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { ConfigError } from '../errors.js'

export interface DataDirLock {
  release(): void
}

export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir)
  mkdirSync(dirname(dir), { recursive: true })
  const path = join(dirname(dir), `${dir.split(/[\\/]/).pop()}.lock`)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      let released = false
      const release = () => {
        if (released) return
        released = true
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path)
        } catch {
          // already gone
        }
      }
      process.once('exit', release)
      return { release }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number.parseInt(readFileSafe(path), 10)
      if (Number.isInteger(holder) && holder !== process.pid && processExists(holder)) {
        throw new ConfigError(
          `the embedded data directory ${dataDir} is in use by another process (pid ${holder}); ` +
            'stop it, or set ROBOT_BRAIN_DATA_DIR to another directory',
        )
      }
      if (holder === process.pid) {
        throw new ConfigError(`the embedded data directory ${dataDir} is already open in this process`)
      }
      try {
        unlinkSync(path) // stale: its process is gone
      } catch {
        // another process took it over first; the next attempt decides
      }
    }
  }
  throw new ConfigError(`could not lock the embedded data directory ${dataDir}`)
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
