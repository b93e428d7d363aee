// The one build check of the test suite. Tests that start a child process on the compiled package
// (the command line, `serve`, a second library process) call ensureBuilt() first: it builds dist/
// unless dist/ is newer than every file of src/, fails the test when the build fails, and never lets a
// stale dist/ run. At most one build per test run: test files run in parallel workers, so a lock
// directory lets one build while the others wait, and a marker named after the run's main process
// (every worker's parent) keeps a later file from rebuilding dist/ while another runs the CLI from it.
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BUILT = [join(ROOT, 'dist', 'index.js'), join(ROOT, 'dist', 'cli', 'index.js')]
const LOCK = join(tmpdir(), 'robot-brain-db-cli-build.lock')
const BUILD_TIMEOUT_MS = 180_000

/** Newest modification time of the files under `dir` (ms). */
function newest(dir) {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return latest
}

/** Why dist/ may not run (missing, or older than a source file), or null when it is current. */
export function staleReason() {
  let built = Number.POSITIVE_INFINITY
  for (const file of BUILT) {
    try {
      built = Math.min(built, statSync(file).mtimeMs)
    } catch {
      return `${file.slice(ROOT.length)} is missing`
    }
  }
  const source = newest(join(ROOT, 'src'))
  return built >= source ? null : 'dist/ is older than src/'
}

/** Throws unless dist/ is current: for code that starts a child on it without building first. */
export function assertBuilt() {
  const reason = staleReason()
  if (reason)
    throw new Error(`${reason}: call ensureBuilt() (test/support/build.mjs) before starting a child process`)
}

function marker() {
  return join(tmpdir(), `robot-brain-db-cli-built-${process.ppid}`)
}

/** A marker of this run: present and recent (a process id can be reused by a much later run). */
function freshMarker() {
  try {
    return Date.now() - statSync(marker()).mtimeMs < 3_600_000
  } catch {
    return false
  }
}

function build() {
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['run', 'build'],
      { cwd: ROOT, timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    )
  })
}

async function lock() {
  const deadline = Date.now() + BUILD_TIMEOUT_MS
  for (;;) {
    try {
      mkdirSync(LOCK)
      return
    } catch {
      let age = 0
      try {
        age = Date.now() - statSync(LOCK).mtimeMs
      } catch {}
      if (age > BUILD_TIMEOUT_MS) rmSync(LOCK, { recursive: true, force: true }) // left by a killed run
      if (Date.now() > deadline)
        throw new Error(`timed out after ${BUILD_TIMEOUT_MS} ms waiting for another build of dist/`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

let once

/** Builds dist/ unless it is current; rejects with the compiler's output when the build fails. */
export function ensureBuilt() {
  once ??= (async () => {
    await lock()
    try {
      // Built in this run already: current, or src/ changed while tests run (never rebuild under them).
      if (freshMarker()) return
      if (staleReason() !== null) {
        const r = await build()
        if (r.code !== 0) throw new Error(`npm run build failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
        const still = staleReason()
        if (still) throw new Error(`npm run build succeeded but ${still}`)
      }
      writeFileSync(marker(), '')
    } finally {
      rmSync(LOCK, { recursive: true, force: true })
    }
  })().catch((err) => {
    once = undefined
    throw err
  })
  return once
}
