// robot-brain-db embed [--backfill]: computes the embeddings the queue holds, with the configured
// embedder, until nothing is due. --backfill first queues every turn without a vector by the
// configured model (turns stored before search existed, or after a model change). Progress goes to
// standard error; an interrupted run loses nothing (the queue is in the database): run it again.
import type { Command } from 'commander'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

export function register(program: Command): void {
  program
    .command('embed')
    .description(
      'compute missing embeddings with the configured embedder (built-in model, or EMBEDDINGS_URL), ' +
        'until the queue has nothing due; resumable',
    )
    .option('--backfill', 'first queue every turn that has no vector by the configured model')
    .option('--batch-size <n>', 'texts per embedder call (default 32)')
    .option('--json', 'print the totals as JSON')
    .addHelpText(
      'after',
      `
Environment: EMBEDDINGS_URL, EMBEDDINGS_MODEL, EMBEDDINGS_API_KEY, EMBEDDINGS_DIMENSIONS (an
OpenAI-compatible /v1/embeddings endpoint), or EMBEDDINGS=off; by default the built-in offline model
(Universal Sentence Encoder lite, 512 dimensions). \`serve\` works the same queue in the background.`,
    )
    .action(async (opts: DbFlags & { backfill?: boolean; batchSize?: string; json?: boolean }) => {
      const batchSize = opts.batchSize === undefined ? undefined : Number(opts.batchSize)
      if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 2048))
        throw new UsageError('--batch-size must be an integer from 1 to 2048')
      await withStore(opts, async (store) => {
        if (!store.embedder) throw new UsageError('embeddings are off (EMBEDDINGS=off): nothing to compute')
        const started = Date.now()
        const tty = process.stderr.isTTY
        const show = (line: string) => process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`)
        const totals = await store.embedPending({
          backfill: opts.backfill,
          batchSize,
          onProgress: (p) => {
            const rate = p.embedded / Math.max(1, (Date.now() - started) / 1000)
            show(
              p.backlog < 0
                ? `queued ${p.queued} turns without a vector by ${store.embedder?.model}`
                : `embedded ${p.embedded}, ${p.backlog} left, ${p.failed} failed (${rate.toFixed(0)}/s)`,
            )
          },
        })
        if (tty) process.stderr.write('\n')
        const backlog = await store.embeddingBacklog()
        if (opts.json) printJson({ ...totals, backlog, model: store.embedder.model })
        else
          console.log(
            `embedded ${totals.embedded} turns with ${store.embedder.model}` +
              (opts.backfill ? ` (${totals.queued} queued by the backfill)` : '') +
              `; ${totals.failed} failed (retried later with backoff); ${backlog} still queued`,
          )
        if (totals.failed > 0) process.exitCode = 1
      })
    })
}
