// README claim (In your project): `npm pack` holds only what a user runs, the compiled library, its
// types, the migrations and the command, and no benchmark code; what it ships imports only the
// package's own dependencies; and its size stays within a budget, so a stray folder cannot slip in
// unnoticed. Runs once (on the pglite run of the suite): nothing here depends on the backend.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { backendName } from '../support/backend.js'
import { ensureBuilt, ROOT } from '../support/build.mjs'

interface PackInfo {
  size: number
  unpackedSize: number
  files: Array<{ path: string; size: number }>
}

/** Budgets with room to grow, far below what a stray folder (bench data, vendor/, a model) adds. */
const MAX_PACKED_BYTES = 600_000
const MAX_UNPACKED_BYTES = 2_500_000

function npmPackDryRun(): Promise<PackInfo> {
  return new Promise((resolve, reject) => {
    execFile(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`npm pack --dry-run failed: ${stderr}`))
        const [info] = JSON.parse(stdout) as PackInfo[]
        if (!info) return reject(new Error(`npm pack printed no package:\n${stdout}`))
        resolve(info)
      },
    )
  })
}

describe.runIf(backendName() === 'pglite')('what npm pack ships', () => {
  let info: PackInfo
  let paths: string[]
  beforeAll(async () => {
    await ensureBuilt()
    info = await npmPackDryRun()
    paths = info.files.map((f) => f.path)
  }, 300_000)

  it('only the library, its types, the migrations, the command and the docs a user reads', () => {
    const allowed = (p: string) =>
      ['LICENSE', 'README.md', 'package.json', 'bin/robot-brain-db.js'].includes(p) ||
      /^dist\/.+\.(js|d\.ts)$/.test(p) ||
      /^dist\/migrations\/\d{4}_[a-z0-9_]+\.sql$/.test(p) ||
      /^dist\/dashboard\/[a-z0-9-]+\.(html|css|js)$/.test(p)
    expect(paths.filter((p) => !allowed(p))).toEqual([])
    expect(paths.filter((p) => p.startsWith('dist/bench/'))).toEqual([])
  })

  it('no stale build output: every shipped file comes from a source file that exists', () => {
    const orphans = paths
      .filter((p) => p.startsWith('dist/'))
      .filter((p) => {
        const rel = p.slice('dist/'.length)
        // Migrations and the dashboard's browser files are copied as they are; the rest is compiled.
        const copied = rel.endsWith('.sql') || rel.startsWith('dashboard/')
        const source = copied ? rel : rel.replace(/\.d\.ts$|\.js$/, '.ts')
        return !existsSync(join(ROOT, 'src', source))
      })
    expect(orphans).toEqual([])
  })

  it('what it ships imports only its dependencies (never a dev dependency or the bench code)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
      peerDependencies: Record<string, string>
    }
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ])
    const builtins = new Set(builtinModules)
    const problems: string[] = []
    // The dashboard's files run in the browser: they import URLs the server serves, not packages.
    for (const p of paths.filter((f) => f.endsWith('.js') && !f.startsWith('dist/dashboard/'))) {
      const text = readFileSync(join(ROOT, p), 'utf8')
      const statics = [
        ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g),
        ...text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g),
      ].map((m) => m[1] as string)
      const dynamics = [...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] as string)
      for (const spec of [...statics, ...dynamics]) {
        if (spec.startsWith('.')) {
          // Only `robot-brain-db bench` may reach for the bench code, and only when run (a dynamic
          // import it turns into "from a clone of the source repository"): never at load time.
          const bench = /(^|\/)bench\//.test(spec)
          if (bench && (statics.includes(spec) || p !== 'dist/cli/bench.js'))
            problems.push(`${p} imports ${spec}`)
          continue
        }
        if (spec.startsWith('node:') || builtins.has(spec)) continue
        const name = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] as string)
        if (!declared.has(name)) problems.push(`${p} imports ${spec}, not a dependency`)
      }
    }
    expect(problems).toEqual([])
  })

  it(`stays within its size budget (${MAX_PACKED_BYTES / 1000} kB packed, ${MAX_UNPACKED_BYTES / 1e6} MB unpacked)`, () => {
    console.info(`[pack] ${paths.length} files, ${info.size} bytes packed, ${info.unpackedSize} unpacked`)
    expect(info.size).toBeLessThan(MAX_PACKED_BYTES)
    expect(info.unpackedSize).toBeLessThan(MAX_UNPACKED_BYTES)
  })
})
