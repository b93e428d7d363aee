// A library user in its own process, for fault (f): it feeds an interaction buffer opened with
// flushOnSignals from 8 concurrent loops and prints, synchronously, the ids of every add() that
// resolved. The parent sends SIGTERM mid-load and checks each printed id is stored exactly once.
// Needs dist/ (npm run build). Env: DATABASE_URL (migrated already).
import { writeSync } from 'node:fs'
import { uuidv7 } from 'uuidv7'
import { openStore } from '../../../dist/index.js'

const store = await openStore({ url: process.env.DATABASE_URL, driver: 'pg', retry: { budgetMs: 20_000 } })
// A long delay and big batches: at SIGTERM most accepted events are still in memory.
const buffer = store.interactionBuffer({ flushOnSignals: true, flushDelayMs: 2_000, maxBatch: 5_000 })

// Synchronous writes: the lines must be out before the re-raised signal ends the process.
const print = (line) => writeSync(1, `${line}\n`)

let sent = 0
const loops = Array.from({ length: 8 }, async (_, w) => {
  for (;;) {
    const events = Array.from({ length: 20 }, (_, i) => ({
      id: uuidv7(),
      robotId: 'child-bot',
      interactionType: 'greet',
      durationMs: i,
      success: true,
      metadata: { w },
    }))
    try {
      await buffer.add(events)
    } catch (err) {
      print(`stopped ${err.code ?? err.message}`)
      return
    }
    print(`acked ${events.map((e) => e.id).join(',')}`)
    if (++sent === 8) print('ready')
    await new Promise((r) => setTimeout(r, 5))
  }
})
await Promise.all(loops)
