// The export command's memory over many rows without a database of that size: the process is set up
// as `robot-brain-db export` sets itself up (the command-line program's modules loaded, the store
// opened as the command opens it), then exports one tenant several times in a row into /dev/null,
// printing after each pass the rows so far and the peak RSS. Ten passes over a 1M-turn tenant put
// 10M rows through one heap: what the README's lifecycle section reports for 10M rows.
//   node dist/bench/export-passes.js <database URL> <tenant> <passes>
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { withStore } from '../cli/common.js'
import { buildProgram } from '../cli/index.js'
import { exportData } from '../lifecycle/export.js'

async function main(): Promise<void> {
  const [url, tenant, passes] = process.argv.slice(2)
  if (!url || !tenant || !(Number(passes) > 0)) {
    console.error('usage: node dist/bench/export-passes.js <database URL> <tenant> <passes>')
    process.exitCode = 2
    return
  }
  buildProgram()
  const out = createWriteStream('/dev/null')
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await once(out, 'drain')
  }
  const started = Date.now()
  let rows = 0
  await withStore({ url }, async (store) => {
    for (let pass = 1; pass <= Number(passes); pass++) {
      const s = await exportData(store.transport.owner, {
        filters: { tenant },
        write,
        open: store.contentOpener(),
      })
      rows += s.sessions + s.turns + s.interactions
      console.log(
        JSON.stringify({
          pass,
          rows,
          seconds: Math.round((Date.now() - started) / 1000),
          peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        }),
      )
    }
  })
}

await main()
