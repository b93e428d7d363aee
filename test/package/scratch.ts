// A scratch project in a temp directory that installs this package the way another project would:
// `npm pack` of the repository, then `npm install <tarball>` (scripts ignored: the tarball must not
// need a build), preferring npm's local cache so the run stays fast.
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureBuilt, ROOT } from '../cli/cli.js'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * The environment of a command in the scratch project: ours without npm's per-script variables
 * (they point at this repository) and without any database setting.
 */
export function scratchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !/^npm_config_(cache|registry|userconfig)$/i.test(k)) continue
    if (/^(DATABASE_|NEON_|ROBOT_BRAIN_|PG[A-Z]+$|INIT_CWD$)/.test(k)) continue
    env[k] = v
  }
  return { ...env, NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' }
}

export function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env: scratchEnv(), timeout, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Fails with the command's output when it did not exit 0. */
export function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
  return r
}

export interface Packed {
  dir: string
  tarball: string
  /** Paths inside the package, as `npm pack --json` lists them. */
  files: string[]
}

/** Builds dist/ if needed and packs the repository into a temp directory. */
export async function packRepository(): Promise<Packed> {
  await ensureBuilt()
  const dir = await mkdtemp(join(tmpdir(), 'rbdb-pack-'))
  // --ignore-scripts: dist/ is built already, and a build here could race the CLI tests using it.
  const r = ok(
    await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT),
    'npm pack',
  )
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  if (!info) throw new Error(`npm pack printed no package:\n${r.stdout}`)
  return { dir, tarball: join(dir, info.filename), files: info.files.map((f) => f.path) }
}

export interface Scratch {
  dir: string
  install: RunResult
  cleanup(): Promise<void>
}

/** A fresh project with `package` installed into it; `manifest` is merged into its package.json. */
export async function scratchProject(
  tarball: string,
  manifest: Record<string, unknown> = {},
): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), 'rbdb-scratch-'))
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, ...manifest }, null, 2),
  )
  const install = ok(
    await run(
      'npm',
      ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball],
      dir,
      180_000,
    ),
    'npm install of the tarball',
  )
  return { dir, install, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** The installed top-level packages of a project (scoped ones as @scope/name). */
export async function installedPackages(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const name of await readdir(join(dir, 'node_modules'))) {
    if (name.startsWith('.')) continue
    if (name.startsWith('@')) {
      for (const sub of await readdir(join(dir, 'node_modules', name))) out.push(`${name}/${sub}`)
    } else out.push(name)
  }
  return out
}
