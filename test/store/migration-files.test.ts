// The migration loader: files numbered upward may leave gaps (numbers are reserved per branch and
// may land out of order); a number used twice is refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadMigrations } from '../../src/db/migrate.js'
import { MigrationError } from '../../src/errors.js'

describe('migration files', () => {
  const dirs: string[] = []
  const dirWith = (...files: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'rbtest-migrations-'))
    dirs.push(dir)
    for (const f of files) writeFileSync(join(dir, f), `-- ${f}\nSELECT 1;\n`)
    return dir
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('accepts a gap in the numbers, in order', () => {
    const loaded = loadMigrations(dirWith('0002_b.sql', '0001_a.sql', '0004_d.sql', 'README.md'))
    expect(loaded.map((m) => [m.version, m.name])).toEqual([
      [1, '0001_a.sql'],
      [2, '0002_b.sql'],
      [4, '0004_d.sql'],
    ])
  })

  it('refuses a number used twice, naming the file', () => {
    expect(() => loadMigrations(dirWith('0001_a.sql', '0002_b.sql', '0002_c.sql'))).toThrow(MigrationError)
    expect(() => loadMigrations(dirWith('0001_a.sql', '0001_b.sql'))).toThrow(/0001_b\.sql/)
  })

  it('the shipped files load, 0004 among them', () => {
    expect(loadMigrations().map((m) => m.name)).toContain('0004_messages.sql')
  })
})
