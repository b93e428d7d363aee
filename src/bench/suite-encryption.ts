// Suite encryption: what column-level encryption costs, in the same run. Turn ingest and history of an
// encrypted tenant (project) against the same of a plain tenant (baseline), both through the store on
// the direct target: the difference is sealing in the application, opening on reads, and the
// database's per-statement check of the tenant's encryption state. The master key is made for the
// bench database alone when the environment has none.
import { randomBytes } from 'node:crypto'
import { type CompareOptions, compare, runClosedLoop } from './load.js'
import { makeTurn } from './payload.js'
import type { ResultRow } from './report.js'
import type { RunLog } from './run-log.js'
import type { Target } from './targets.js'

const PLAIN = 'bench_plain'
const SEALED = 'bench_sealed'
const WRITERS = 8
const READERS = 8
const SESSIONS = 50
const TURNS_PER_SESSION = 40
const PAGE = 20

export async function encryptionPhase(run: RunLog, target: Target, opts: CompareOptions): Promise<void> {
  process.env.ROBOT_BRAIN_MASTER_KEY ||= `bench:${randomBytes(32).toString('base64')}`
  const plain = target.store.tenant(PLAIN)
  const sealed = target.store.tenant(SEALED)
  await run.step('encryption: enabling the sealed tenant', () => sealed.encryption.enable())
  // Sessions to read, the same turns in both tenants.
  await run.step('encryption: writing the sessions to read', async () => {
    for (let s = 0; s < SESSIONS; s++) {
      const turns = Array.from({ length: TURNS_PER_SESSION }, (_, i) => makeTurn(`r${s}`, i))
      await Promise.all(turns.map((t) => plain.recordTurn(t)))
      await Promise.all(turns.map((t) => sealed.recordTurn({ ...t, id: undefined })))
    }
  })
  run.record(
    await run.step('encryption: turn ingest', async (): Promise<ResultRow> => {
      const cmp = await compare(
        {
          run: (ms) =>
            runClosedLoop(WRITERS, ms, (w, seq) => plain.recordTurn(makeTurn(`w${w}`, seq)).then(() => {})),
        },
        {
          run: (ms) =>
            runClosedLoop(WRITERS, ms, (w, seq) => sealed.recordTurn(makeTurn(`w${w}`, seq)).then(() => {})),
        },
        opts,
      )
      return {
        suite: 'encryption',
        target: target.name,
        case: `turn ingest, ${WRITERS} writers`,
        key: `encryption.${target.name}.turns`,
        unit: 'turns/s',
        baselineName: 'plain tenant',
        projectName: 'encrypted tenant',
        ...cmp,
      }
    }),
  )
  const pick = () => `r${Math.floor(Math.random() * SESSIONS)}`
  run.record(
    await run.step('encryption: history', async (): Promise<ResultRow> => {
      const cmp = await compare(
        {
          run: (ms) =>
            runClosedLoop(READERS, ms, () => plain.history(pick(), { limit: PAGE }).then(() => {})),
        },
        {
          run: (ms) =>
            runClosedLoop(READERS, ms, () => sealed.history(pick(), { limit: PAGE }).then(() => {})),
        },
        opts,
      )
      return {
        suite: 'encryption',
        target: target.name,
        case: `history, last ${PAGE} turns, ${READERS} readers`,
        key: `encryption.${target.name}.history`,
        unit: 'reads/s',
        baselineName: 'plain tenant',
        projectName: 'encrypted tenant',
        ...cmp,
      }
    }),
  )
}
