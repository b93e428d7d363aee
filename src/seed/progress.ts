// A one-line progress bar on stderr, drawn only when stderr is a terminal (never into logs or pipes).
import type { WriteStream } from 'node:tty'

export class ProgressBar {
  private readonly enabled: boolean
  private readonly started = Date.now()
  private lastDraw = 0

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream | WriteStream = process.stderr,
  ) {
    this.enabled = Boolean(stream.isTTY) && total > 0
  }

  update(done: number): void {
    if (!this.enabled) return
    const now = Date.now()
    if (now - this.lastDraw < 100 && done < this.total) return // at most ten redraws a second
    this.lastDraw = now
    const ratio = Math.min(1, done / this.total)
    const seconds = (now - this.started) / 1000
    const rate = seconds > 0 ? done / seconds : 0
    const eta = rate > 0 ? Math.ceil((this.total - done) / rate) : 0
    const tail = ` ${Math.floor(ratio * 100)}% ${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} rows ${Math.round(rate).toLocaleString('en-US')}/s eta ${eta}s`
    const width = Math.max(
      10,
      Math.min(40, (this.stream.columns ?? 80) - this.label.length - tail.length - 4),
    )
    const full = Math.round(ratio * width)
    this.stream.write(`\r${this.label} [${'#'.repeat(full)}${'-'.repeat(width - full)}]${tail}\x1b[K`)
  }

  finish(): void {
    if (this.enabled) this.stream.write('\n')
  }
}
