// Group commit for turns: concurrent recordTurn calls are coalesced into one multi-row statement per
// tenant. A batch starts as soon as a connection slot is free, so a lone turn waits for nobody, and
// under load the turns that queued while the slots were busy go together. Each caller's promise
// settles when its own turn is committed; a batch that fails for a reason of its rows is re-run one
// turn at a time, so a bad turn fails alone.
import type { GroupCommitOptions } from '../config.js'
import { isRetryable } from '../db/retry.js'
import { UnavailableError } from '../errors.js'

interface Waiter<I, O> {
  item: I
  resolve(value: O): void
  reject(err: unknown): void
}

export class GroupCommit<I, O> {
  private readonly queues = new Map<string, Array<Waiter<I, O>>>()
  private inflight = 0
  private scheduled = false

  constructor(
    private readonly options: GroupCommitOptions,
    /** Most statements in flight at once (the pool size). */
    private readonly slots: number,
    /** Writes a batch for one tenant; returns one result per item, in order. */
    private readonly write: (tenant: string, items: I[]) => Promise<O[]>,
  ) {}

  submit(tenant: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let queue = this.queues.get(tenant)
      if (!queue) {
        queue = []
        this.queues.set(tenant, queue)
      }
      queue.push({ item, resolve, reject })
      this.schedule()
    })
  }

  /** Turns waiting for a slot. */
  get pending(): number {
    let n = 0
    for (const q of this.queues.values()) n += q.length
    return n
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    const run = () => {
      this.scheduled = false
      this.drain()
    }
    // setImmediate lets callers of the same event-loop turn join the batch; linger waits longer.
    if (this.options.lingerMs > 0) setTimeout(run, this.options.lingerMs)
    else setImmediate(run)
  }

  private drain(): void {
    while (this.inflight < this.slots && this.queues.size > 0) {
      const [tenant, queue] = this.queues.entries().next().value as [string, Array<Waiter<I, O>>]
      const batch = queue.splice(0, this.options.maxBatch)
      if (queue.length === 0) this.queues.delete(tenant)
      else {
        // Round-robin between tenants: move this one to the back.
        this.queues.delete(tenant)
        this.queues.set(tenant, queue)
      }
      this.inflight++
      this.flush(tenant, batch).finally(() => {
        this.inflight--
        if (this.queues.size > 0) this.drain()
      })
    }
  }

  private async flush(tenant: string, batch: Array<Waiter<I, O>>): Promise<void> {
    try {
      const results = await this.write(
        tenant,
        batch.map((w) => w.item),
      )
      for (const [i, w] of batch.entries()) w.resolve(results[i] as O)
    } catch (err) {
      if (batch.length === 1 || isRetryable(err) || err instanceof UnavailableError) {
        for (const w of batch) w.reject(err)
        return
      }
      // Something in the batch was refused: write each alone so only the guilty one fails.
      await Promise.all(
        batch.map((w) =>
          this.write(tenant, [w.item]).then(
            (r) => w.resolve(r[0] as O),
            (e) => w.reject(e),
          ),
        ),
      )
    }
  }
}
