// The report's "reproduce" line is the command that repeats the run, with the flags it was given
// (the search results at 1M turns were measured with --search-db, which the line used to leave out).
import { describe, expect, it } from 'vitest'
import { reproduceCommand } from '../../src/cli/bench.js'

describe('bench reproduce line', () => {
  const node = ['/usr/bin/node', '/repo/bin/robot-brain-db.js']

  it('repeats the flags as given', () => {
    expect(reproduceCommand([...node, 'bench'])).toBe('npm run bench')
    expect(
      reproduceCommand([...node, 'bench', '--suites', 'search', '--targets', 'pg', '--search-db', 'rb_1m']),
    ).toBe('npm run bench -- --suites search --targets pg --search-db rb_1m')
    expect(reproduceCommand([...node, 'bench', '--quick', '--out', 'bench/results x'])).toBe(
      "npm run bench -- --quick --out 'bench/results x'",
    )
  })

  it('never shows a password of a URL', () => {
    const line = reproduceCommand([...node, 'bench', '--url', 'postgres://admin:s3cret@db:5432/postgres'])
    expect(line).toBe("npm run bench -- --url 'postgres://admin:***@db:5432/postgres'")
    const eq = reproduceCommand([...node, 'bench', '--url=postgres://admin:s3cret@db/postgres'])
    expect(eq).not.toContain('s3cret')
  })
})
