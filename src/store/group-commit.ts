// Group commit: concurrent writes of one tenant are coalesced into one multi-row statement. A batch
// starts as soon as a connection slot is free, so a lone write waits for nobody, and under load the
// writes that queued while the slots were busy go together. Each caller's promise settles when its
// own write is committed; a batch that fails for a reason of its rows is re-run one write at a time,
// so a bad write fails alone. Turns (one per item) and interaction events (one caller's batch per
// item) use it.
import type { GroupCommitOptions } from '../config.js'
import { isRetryable } from '../db/retry.js'
import { UnavailableError } from '../errors.js'

interface Waiter<I, O> {
  item: I
  resolve(value: O): void
  reject(err: unknown): void
}

export interface GroupCommitShape<I> {
  /** Most statements of one tenant in flight at once; default: no bound but the slots. */
  perTenant?: number
  /** An item's share of `maxBatch` (default 1); an item larger than `maxBatch` goes alone. */
  size?: (item: I) => number
}

export class GroupCommit<I, O> {
  private readonly queues = new Map<string, Array<Waiter<I, O>>>()
  /** Statements in flight, by tenant. */
  private readonly running = new Map<string, number>()
  private inflight = 0
  private scheduled = false

  constructor(
    private readonly options: GroupCommitOptions,
    /** Most statements in flight at once (the pool size). */
    private readonly slots: number,
    /** Writes a batch for one tenant; returns one result per item, in order. */
    private readonly write: (tenant: string, items: I[]) => Promise<O[]>,
    private readonly shape: GroupCommitShape<I> = {},
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

  /** Writes waiting for a slot. */
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

  /** The first tenant in queue order that may start a statement now. */
  private nextTenant(): string | undefined {
    const bound = this.shape.perTenant ?? Number.POSITIVE_INFINITY
    for (const tenant of this.queues.keys()) {
      if ((this.running.get(tenant) ?? 0) < bound) return tenant
    }
    return undefined
  }

  /**
   * Takes the head of the queue up to maxBatch (by size), at least one item. Where a tenant's
   * statements are bounded, the queue is shared among the statements it may still start: otherwise
   * the first would take every waiting caller, the others would find the queue empty, and callers
   * that come back together would keep going in one statement at a time, never two side by side.
   */
  private take(tenant: string, queue: Array<Waiter<I, O>>): Array<Waiter<I, O>> {
    const size = this.shape.size ?? (() => 1)
    let limit = this.options.maxBatch
    if (this.shape.perTenant !== undefined) {
      const free = Math.min(
        this.shape.perTenant - (this.running.get(tenant) ?? 0),
        this.slots - this.inflight,
      )
      let queued = 0
      for (const w of queue) queued += size(w.item)
      limit = Math.min(limit, Math.ceil(queued / free))
    }
    let n = 0
    let total = 0
    for (const w of queue) {
      total += size(w.item)
      if (n > 0 && total > limit) break
      n++
    }
    return queue.splice(0, n)
  }

  private drain(): void {
    while (this.inflight < this.slots) {
      const tenant = this.nextTenant()
      if (tenant === undefined) return
      const queue = this.queues.get(tenant) as Array<Waiter<I, O>>
      const batch = this.take(tenant, queue)
      // Round-robin between tenants: move this one to the back.
      this.queues.delete(tenant)
      if (queue.length > 0) this.queues.set(tenant, queue)
      this.inflight++
      this.running.set(tenant, (this.running.get(tenant) ?? 0) + 1)
      this.flush(tenant, batch).finally(() => {
        this.inflight--
        const left = (this.running.get(tenant) ?? 1) - 1
        if (left > 0) this.running.set(tenant, left)
        else this.running.delete(tenant)
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
      // Something in the batch was refused: write each alone so only the guilty one fails (one
      // after another where the tenant's statements are bounded, else side by side).
      const alone = (w: Waiter<I, O>) =>
        this.write(tenant, [w.item]).then(
          (r) => w.resolve(r[0] as O),
          (e) => w.reject(e),
        )
      if (this.shape.perTenant === undefined) await Promise.all(batch.map(alone))
      else for (const w of batch) await alone(w)
    }
  }
}
