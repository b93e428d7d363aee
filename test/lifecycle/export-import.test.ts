// Export and import: an exact round trip into an empty database (every column of every row, the
// analytics rollups included, timestamps to the microsecond), a second import that changes nothing, an
// interrupted import finished by a rerun, filters, and bad lines reported by number with nothing of
// them stored.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ExportFilters, exportData } from '../../src/lifecycle/export.js'
import { type ImportSummary, importLines } from '../../src/lifecycle/import.js'
import type { Store } from '../../src/store/store.js'
import { ensureMonths } from '../../src/upkeep/partitions.js'
import { openTestStore, runCli, serverBackend, type TestStore, turnInput } from '../support/store.js'

/** Every stored row a round trip must keep, as text, in a fixed order. */
const SNAPSHOT = [
  `SELECT tenant_id, id, user_id, user_metadata::text, created_at::text, last_active::text, message_count
     FROM robot_brain.sessions ORDER BY 1, 2`,
  `SELECT tenant_id, id::text, session_id, robot_personality, user_message, robot_response, metadata::text,
          created_at::text, tableoid::regclass::text AS partition
     FROM robot_brain.conversations ORDER BY 1, 2`,
  `SELECT tenant_id, id::text, robot_id, interaction_type, duration_ms, success, metadata::text, created_at::text,
          tableoid::regclass::text AS partition
     FROM robot_brain.robot_interactions ORDER BY 1, 2`,
  'SELECT * FROM robot_brain.personality_rollups WHERE turns <> 0 ORDER BY 1, 2, 3, 4',
  'SELECT tenant_id, hour::text, robot_id, interaction_type, events, successes, duration_sum, duration_max, sketch::text FROM robot_brain.interaction_rollups ORDER BY 1, 2, 3, 4',
]

async function snapshot(t: TestStore): Promise<unknown[][]> {
  const out: unknown[][] = []
  for (const q of SNAPSHOT) out.push(await t.ownerQuery(q))
  return out
}

async function exportText(store: Store, filters: ExportFilters = {}): Promise<string> {
  let text = ''
  await exportData(store.transport.owner, {
    filters,
    pageSize: 7, // small pages: every paging path runs on a small data set
    write: async (chunk) => {
      text += chunk
    },
  })
  return text
}

async function* linesOf(text: string): AsyncGenerator<string> {
  for (const line of text.split('\n')) yield line
}

function importText(store: Store, text: string, batchSize = 5): Promise<ImportSummary> {
  return importLines(store.transport.owner, linesOf(text), { batchSize })
}

describe('export and import', () => {
  let source: TestStore
  let target: TestStore
  let dump = ''

  beforeAll(async () => {
    source = await openTestStore('export_source')
    target = await openTestStore('export_target')
    // The past months get their partitions, as `seed` and `import` make them.
    for (const table of ['conversations', 'robot_interactions'] as const)
      await ensureMonths(source.store.transport.owner, table, ['2026-05', '2026-06', '2026-07'])
    const acme = source.store.tenant('acme')
    const globex = source.store.tenant('globex')
    // Months apart (partitions of past months), a long session paged on its own, a user's sessions,
    // a session without turns, a turn awaiting its answer, a deleted turn, text of every kind.
    for (let i = 0; i < 12; i++)
      await acme.recordTurn(
        turnInput('long', i, { createdAt: new Date(Date.UTC(2026, 5, 1, 12, i)).toISOString() }),
      )
    await acme.putSession('ada-1', {
      userId: 'ada',
      userMetadata: { plan: 'pro', nested: { a: [1, 2.5, null] } },
    })
    await acme.recordTurn(
      turnInput('ada-1', 1, {
        userMessage: 'Héllo 👋 "quoted" \\ back\nslash\ttab',
        metadata: { channel: 'web', emoji: '🤖', deep: { x: true } },
        createdAt: '2026-07-31T23:59:59.999Z',
      }),
    )
    await acme.recordTurn(turnInput('ada-2', 1, { userId: 'ada', robotResponse: undefined }))
    const gone = await acme.recordTurn(turnInput('ada-2', 2, { userId: 'ada' }))
    await acme.deleteTurn('ada-2', gone.id)
    await acme.putSession('empty', { userMetadata: { note: 'no turns yet' } })
    await globex.recordTurn(turnInput('g-1', 1, { robotPersonality: 'pirate' }))
    await acme.recordInteractions(
      Array.from({ length: 9 }, (_, i) => ({
        robotId: `robot-${i % 3}`,
        interactionType: i % 2 ? 'wave' : 'speak',
        durationMs: 100 * i,
        success: i % 4 !== 0,
        metadata: { i },
        createdAt: new Date(Date.UTC(2026, 4 + (i % 3), 10)).toISOString(),
      })),
    )
    await globex.recordInteractions([{ robotId: 'r', interactionType: 't', durationMs: 0, success: true }])
    // Microseconds, which the API's Date cannot carry: the round trip must keep them.
    await source.ownerQuery(
      `UPDATE robot_brain.conversations SET created_at = created_at + interval '123 microseconds'
        WHERE session_id = 'g-1'`,
    )
    await source.ownerQuery(
      `UPDATE robot_brain.sessions SET last_active = last_active + interval '456 microseconds' WHERE id = 'g-1'`,
    )
    dump = await exportText(source.store)
  }, 240_000)

  afterAll(async () => {
    await source?.cleanup()
    await target?.cleanup()
  })

  it('exports one line per row: each session followed by its turns, microseconds kept', () => {
    const lines = dump
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.filter((l) => l.type === 'session')).toHaveLength(5)
    expect(lines.filter((l) => l.type === 'turn')).toHaveLength(12 + 1 + 1 + 1)
    expect(lines.filter((l) => l.type === 'interaction')).toHaveLength(10)
    for (const [i, l] of lines.entries())
      if (l.type === 'turn')
        expect(lines.slice(0, i).some((s) => s.type === 'session' && s.id === l.sessionId)).toBe(true)
    const g = lines.find((l) => l.type === 'turn' && l.sessionId === 'g-1')
    expect(g.createdAt).toMatch(/\.\d{3}123Z$/)
    expect(g).toEqual({
      type: 'turn',
      tenantId: 'globex',
      id: g.id,
      sessionId: 'g-1',
      robotPersonality: 'pirate',
      userMessage: 'user message 1',
      robotResponse: 'robot response 1',
      metadata: {},
      createdAt: g.createdAt,
    })
    const pending = lines.find((l) => l.type === 'turn' && l.sessionId === 'ada-2')
    expect(pending.robotResponse).toBeNull()
  })

  it('imports into an empty database exactly: every row, column and rollup', async () => {
    const summary = await importText(target.store, dump)
    expect(summary.errors).toEqual([])
    expect(summary.sessions).toEqual({ inserted: 5, present: 0 })
    expect(summary.turns).toEqual({ inserted: 15, present: 0 })
    expect(summary.interactions).toEqual({ inserted: 10, present: 0 })
    expect(await snapshot(target)).toEqual(await snapshot(source))
    expect(await exportText(target.store)).toBe(dump)
    // Each session knows the span of its turns (history reads only those partitions).
    const spans = await target.ownerQuery(
      `SELECT s.id FROM robot_brain.sessions s
        WHERE s.message_count > 0 AND (s.turns_from IS NULL OR s.turns_to IS NULL OR EXISTS (
          SELECT FROM robot_brain.conversations c WHERE c.tenant_id = s.tenant_id AND c.session_id = s.id
             AND c.created_at NOT BETWEEN s.turns_from AND s.turns_to))`,
    )
    expect(spans).toEqual([])
  })

  it('a second import changes nothing', async () => {
    const before = await snapshot(target)
    const summary = await importText(target.store, dump)
    expect(summary.sessions).toEqual({ inserted: 0, present: 5 })
    expect(summary.turns).toEqual({ inserted: 0, present: 15 })
    expect(summary.interactions).toEqual({ inserted: 0, present: 10 })
    expect(await snapshot(target)).toEqual(before)
  })

  it('an import stopped halfway and run again ends exact', async () => {
    const again = await openTestStore('export_rerun')
    try {
      const lines = dump.split('\n')
      // Stopped after some sessions and some of their turns (a session's count follows its turns).
      await importText(again.store, lines.slice(0, 9).join('\n'))
      const summary = await importText(again.store, dump)
      expect(summary.errorCount).toBe(0)
      expect(await snapshot(again)).toEqual(await snapshot(source))
    } finally {
      await again.cleanup()
    }
  })

  it('an event id on two lines of one batch, at two times, is stored once', async () => {
    const twice = await openTestStore('export_twice')
    try {
      const line = dump.split('\n').find((l) => l.includes('"type":"interaction"')) as string
      const event = JSON.parse(line)
      const later = new Date(new Date(event.createdAt).getTime() + 3_600_000).toISOString()
      const summary = await importText(
        twice.store,
        `${line}\n${JSON.stringify({ ...event, createdAt: later })}`,
      )
      expect(summary.interactions).toEqual({ inserted: 1, present: 1 })
      const [row] = await twice.ownerQuery<{ rows: number; counted: number }>(
        `SELECT (SELECT count(*)::int FROM robot_brain.robot_interactions) AS rows,
                (SELECT sum(events)::int FROM robot_brain.interaction_rollups) AS counted`,
      )
      expect(row).toEqual({ rows: 1, counted: 1 })
    } finally {
      await twice.cleanup()
    }
  })

  it('filters by tenant, session and user', async () => {
    const types = (text: string) =>
      text
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const o = JSON.parse(l)
          return `${o.tenantId}/${o.type}/${o.sessionId ?? o.id}`
        })
    const globex = types(await exportText(source.store, { tenant: 'globex' }))
    expect(globex.filter((x) => !x.startsWith('globex/'))).toEqual([])
    expect(globex.filter((x) => x.includes('/interaction/'))).toHaveLength(1)
    expect(types(await exportText(source.store, { session: 'ada-1' }))).toEqual([
      'acme/session/ada-1',
      'acme/turn/ada-1',
    ])
    const ada = types(await exportText(source.store, { tenant: 'acme', user: 'ada' }))
    expect(ada).toEqual(['acme/session/ada-1', 'acme/turn/ada-1', 'acme/session/ada-2', 'acme/turn/ada-2'])
    expect(await exportText(source.store, { tenant: 'nobody' })).toBe('')
  })

  it('reports each bad line by number and field, stores nothing of it, and the rest', async () => {
    const fresh = await openTestStore('export_bad')
    try {
      const good = (id: string) =>
        JSON.stringify({
          type: 'session',
          tenantId: 'acme',
          id,
          userId: null,
          userMetadata: {},
          createdAt: '2026-01-01T00:00:00.000001Z',
          lastActive: '2026-01-01T00:00:00.000001Z',
          messageCount: 1,
        })
      const turn = (extra: Record<string, unknown>) =>
        JSON.stringify({
          type: 'turn',
          tenantId: 'acme',
          id: '01900000-0000-7000-8000-000000000001',
          sessionId: 's-1',
          robotPersonality: 'friendly',
          userMessage: 'hi',
          robotResponse: 'hello',
          metadata: {},
          createdAt: '2026-01-01T00:00:01Z',
          ...extra,
        })
      const text = [
        good('s-1'),
        '{"type":"session",', // 2: not JSON
        turn({ userMessage: 'x'.repeat(100_001) }), // 3
        turn({ sessionId: 'no-such-session', id: '01900000-0000-7000-8000-000000000002' }), // 4
        turn({ robot_response: 'snake case' }), // 5
        turn({ metadata: { bad: 'nul\u0000' } }), // 6
        '', // 7: blank, skipped
        turn({ tenantId: 'not a tenant!' }), // 8
        turn({}), // 9: good
      ].join('\n')
      const summary = await importLines(fresh.store.transport.owner, linesOf(text), { batchSize: 50 })
      expect(summary.errors.map((e) => [e.line, e.field])).toEqual([
        [2, 'line'],
        [3, 'userMessage'],
        [5, 'robot_response'],
        [6, 'metadata'],
        [8, 'tenantId'],
        [4, 'sessionId'],
      ])
      expect(summary.errors.find((e) => e.line === 4)?.message).toMatch(/session line must come first/)
      expect(summary.turns.inserted).toBe(1)
      const rows = await fresh.ownerQuery<{ id: string; n: number }>(
        `SELECT s.id, s.message_count AS n FROM robot_brain.sessions s ORDER BY 1`,
      )
      expect(rows).toEqual([{ id: 's-1', n: 1 }])
      expect((await fresh.counts()).conversations).toBe(1)
    } finally {
      await fresh.cleanup()
    }
  })

  it('`export --out` and `import FILE` on the command line, exit 1 on a bad line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rbtest-export-'))
    const dest = await openTestStore('export_cli', { migrate: false })
    try {
      await source.store.close()
      await dest.store.close()
      const env = (t: TestStore): Record<string, string> =>
        serverBackend ? { DATABASE_URL: t.db.ownerUrl } : { ROBOT_BRAIN_DATA_DIR: t.db.dataDir ?? '' }
      const file = join(dir, 'dump.jsonl')
      const out = await runCli(['export', '--out', file, '--json'], env(source))
      expect(out.code).toBe(0)
      expect(JSON.parse(out.stdout)).toMatchObject({ sessions: 5, turns: 15, interactions: 10 })
      expect(readFileSync(file, 'utf8')).toBe(dump)
      writeFileSync(join(dir, 'bad.jsonl'), `${dump}{"type":"nope"}\n`)
      const run = await runCli(['import', join(dir, 'bad.jsonl')], env(dest))
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(
        `line ${dump.split('\n').length}: type: must be "session", "turn" or "interaction"`,
      )
      expect(run.stdout).toMatch(
        /imported 31 lines .*5 sessions.*15 turns.*10 interaction events.*1 bad line/,
      )
      const twice = await runCli(['import', file, '--json'], env(dest))
      expect(twice.code).toBe(0)
      expect(JSON.parse(twice.stdout).turns).toEqual({ inserted: 0, present: 15 })
      await source.reopen()
      await dest.reopen()
      expect(await snapshot(dest)).toEqual(await snapshot(source))
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await dest.cleanup()
    }
  }, 240_000)
})
