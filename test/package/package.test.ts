// The package as another project sees it: what `npm pack` ships, installing the tarball into a fresh
// project, require() and import of it, its types under a default `tsc --init` configuration, and its
// command. Runs once (on the pglite run of the suite): nothing here depends on the backend.
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../cli/cli.js'
import { backendName } from '../support/backend.js'
import {
  installedPackages,
  ok,
  type Packed,
  packRepository,
  run,
  type Scratch,
  scratchProject,
} from './scratch.js'

interface PackageJson {
  devDependencies: Record<string, string>
}

const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')

/** The entry a user adds to their package.json to silence cookie@2's engine warning on Node 20 (README). */
const COOKIE_OVERRIDE = { overrides: { 'light-my-request': { cookie: '1.1.1' } } }

describe.skipIf(backendName() !== 'pglite')('the package in another project', { timeout: 180_000 }, () => {
  let packed: Packed
  let scratch: Scratch
  beforeAll(async () => {
    packed = await packRepository()
    scratch = await scratchProject(packed.tarball, COOKIE_OVERRIDE)
  }, 400_000) // may build dist/ first; the install reads npm's cache
  afterAll(async () => {
    await scratch?.cleanup()
    if (packed) await rm(packed.dir, { recursive: true, force: true })
  })

  it('ships the compiled library, its migrations once, a LICENSE, and nothing a user cannot run', () => {
    const files = packed.files
    expect(files).toContain('LICENSE')
    expect(files).toContain('README.md')
    expect(files).toContain('dist/index.js')
    expect(files).toContain('dist/index.d.ts')
    expect(files).toContain('bin/robot-brain-db.js')
    // The dashboard served at / (its charting library is a dependency).
    expect(files).toContain('dist/dashboard/index.html')
    expect(files).toContain('dist/dashboard/app.js')
    // The benchmarks need the repository's dev dependencies and bench/ folder.
    expect(files.filter((f) => f.startsWith('dist/bench/'))).toEqual([])
    // Source maps would point at src/, which is not shipped.
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([])
    expect(files.filter((f) => f.startsWith('src/'))).toEqual([])
    const sql = files.filter((f) => f.endsWith('.sql'))
    expect(sql.length).toBeGreaterThan(0)
    expect(sql.every((f) => f.startsWith('dist/migrations/'))).toBe(true)
    const names = sql.map((f) => f.split('/').pop())
    expect(new Set(names).size).toBe(names.length)
  })

  it('installs without running a build or any install script', async () => {
    const manifest = JSON.parse(
      await readFile(join(scratch.dir, 'node_modules/robot-brain-db/package.json'), 'utf8'),
    ) as { scripts?: Record<string, string>; exports: Record<string, unknown> }
    for (const hook of ['preinstall', 'install', 'postinstall'])
      expect(manifest.scripts?.[hook]).toBeUndefined()
    // Every file the exports map names is in the tarball (the install ran with --ignore-scripts).
    const targets: string[] = []
    const collect = (node: unknown): void => {
      if (typeof node === 'string') targets.push(node.replace(/^\.\//, ''))
      else if (node && typeof node === 'object') Object.values(node).forEach(collect)
    }
    collect(manifest.exports)
    expect(targets).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/adapters/langchain.d.ts', 'dist/adapters/ai-sdk.js']),
    )
    for (const t of targets) expect(packed.files).toContain(t)
    // The documented override keeps npm quiet about engines on Node 20.
    expect(scratch.install.stderr).not.toMatch(/EBADENGINE/)
  })

  it('is loaded by require() from CommonJS and works', async () => {
    const dataDir = join(scratch.dir, 'data-cjs')
    await writeFile(
      join(scratch.dir, 'use.cjs'),
      `const { openStore, ValidationError } = require('robot-brain-db');
(async () => {
  const store = await openStore({ dataDir: ${JSON.stringify(dataDir)} })
  try {
    await store.migrate()
    await store.recordTurn({ sessionId: 'cjs', robotPersonality: 'helper', userMessage: 'hi', robotResponse: 'hello' })
    const { turns } = await store.history('cjs', { limit: 5 })
    let invalid = null
    try { await store.recordTurn({ sessionId: '', robotPersonality: 'helper', userMessage: 'x' }) }
    catch (err) { invalid = err instanceof ValidationError ? err.field : String(err) }
    console.log(JSON.stringify({ turns: turns.map((t) => [t.userMessage, t.robotResponse]), invalid }))
  } finally {
    await store.close()
  }
})().catch((err) => { console.error(err); process.exit(1) })
`,
    )
    const r = ok(await run(process.execPath, ['use.cjs'], scratch.dir), 'node use.cjs')
    expect(JSON.parse(r.stdout)).toEqual({ turns: [['hi', 'hello']], invalid: 'sessionId' })
    expect(r.stderr).not.toMatch(/ExperimentalWarning/)
  })

  it('is loaded by import from an ES module', async () => {
    await writeFile(
      join(scratch.dir, 'use.mjs'),
      `import { openStore, LIMITS } from 'robot-brain-db'
import * as viaRequire from 'robot-brain-db'
console.log(JSON.stringify({ openStore: typeof openStore, limits: typeof LIMITS, same: viaRequire.openStore === openStore }))
`,
    )
    const r = ok(await run(process.execPath, ['use.mjs'], scratch.dir), 'node use.mjs')
    expect(JSON.parse(r.stdout)).toEqual({ openStore: 'function', limits: 'object', same: true })
  })

  it('type-checks under `tsc --init` settings (no @types/node), from ESM and CommonJS files', async () => {
    const dir = join(scratch.dir, 'ts')
    ok(await run('mkdir', ['-p', dir], scratch.dir), 'mkdir')
    ok(await run(process.execPath, [TSC, '--init'], dir), 'tsc --init')
    const tsconfig = await readFile(join(dir, 'tsconfig.json'), 'utf8')
    expect(tsconfig).toMatch(/"types": \[\]/) // the default that broke the published types
    await writeFile(
      join(dir, 'app.mts'),
      `import { openStore, type Store, type Turn, ValidationError } from 'robot-brain-db'
const store: Store = await openStore({ dataDir: './data' })
const { turns }: { turns: Turn[] } = await store.history('s', { limit: 20 })
const e: ValidationError | undefined = undefined
console.log(turns.length, e)
await store.close()
`,
    )
    await writeFile(
      join(dir, 'legacy.cts'),
      `import robotBrain = require('robot-brain-db')
async function count(sessionId: string): Promise<number> {
  const store: robotBrain.Store = await robotBrain.openStore()
  return (await store.history(sessionId, { limit: 5 })).turns.length
}
export = { count }
`,
    )
    // skipLibCheck (on in `tsc --init`) would hide errors in the published .d.ts files: check them.
    const r = await run(process.execPath, [TSC, '-p', '.', '--noEmit', '--skipLibCheck', 'false'], dir)
    expect(`${r.stdout}${r.stderr}`).toBe('')
    expect(r.code).toBe(0)
  })

  it('installs no adapter peer (LangChain, AI SDK) for a project that does not use them', async () => {
    const installed = await installedPackages(scratch.dir)
    expect(installed).toContain('robot-brain-db')
    expect(installed).not.toContain('@langchain/core')
    expect(installed).not.toContain('ai')
  })

  it('loads and type-checks the adapters once their peers are installed', async () => {
    const dev = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson)
      .devDependencies
    const peers = ['@langchain/core', 'ai'].map((name) => `${name}@${dev[name]}`)
    ok(
      await run(
        'npm',
        ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', ...peers],
        scratch.dir,
        180_000,
      ),
      'npm install of the peers',
    )
    await writeFile(
      join(scratch.dir, 'adapters.cjs'),
      `const { RobotBrainChatMessageHistory } = require('robot-brain-db/langchain');
const { chatPersistence } = require('robot-brain-db/ai-sdk');
import('robot-brain-db/langchain').then((esm) => {
  console.log(JSON.stringify([typeof RobotBrainChatMessageHistory, typeof chatPersistence, esm.RobotBrainChatMessageHistory === RobotBrainChatMessageHistory]))
})
`,
    )
    const r = ok(await run(process.execPath, ['adapters.cjs'], scratch.dir), 'node adapters.cjs')
    expect(JSON.parse(r.stdout)).toEqual(['function', 'function', true])

    const dir = join(scratch.dir, 'ts-adapters')
    ok(await run('mkdir', ['-p', dir], scratch.dir), 'mkdir')
    ok(await run(process.execPath, [TSC, '--init'], dir), 'tsc --init')
    await writeFile(
      join(dir, 'app.mts'),
      `import { openStore } from 'robot-brain-db'
import { chatPersistence } from 'robot-brain-db/ai-sdk'
import { RobotBrainChatMessageHistory } from 'robot-brain-db/langchain'
import type { UIMessage } from 'ai'
import type { BaseListChatMessageHistory } from '@langchain/core/chat_history'
const store = await openStore()
const { loadChat, saveChat } = chatPersistence<UIMessage<{ at: string }>>(store)
const messages: UIMessage<{ at: string }>[] = await loadChat('c')
await saveChat({ chatId: 'c', messages })
const history: BaseListChatMessageHistory = new RobotBrainChatMessageHistory({ store, sessionId: 's' })
console.log((await history.getMessages()).length)
`,
    )
    const tsc = await run(process.execPath, [TSC, '-p', '.', '--noEmit'], dir)
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('')
    expect(tsc.code).toBe(0)
  })

  it('runs its command; bench says it belongs to the source repository', async () => {
    const bin = join(scratch.dir, 'node_modules/.bin/robot-brain-db')
    const help = ok(await run(bin, ['--help'], scratch.dir), 'robot-brain-db --help')
    expect(help.stdout).toMatch(/migrate/)
    const bench = await run(bin, ['bench', '--quick'], scratch.dir)
    expect(bench.code).toBe(1)
    expect(bench.stderr).toMatch(/clone of the source repository \(npm install && npm run bench\)/)
  })
})

describe.skipIf(backendName() !== 'pglite')('the repository install', { timeout: 120_000 }, () => {
  it('resolves no dependency whose engines exclude this Node (npm install prints no EBADENGINE)', async () => {
    const r = ok(
      await run('npm', ['install', '--dry-run', '--ignore-scripts', '--prefer-offline', '--no-audit'], ROOT),
      'npm install --dry-run',
    )
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/EBADENGINE/)
  })
})
