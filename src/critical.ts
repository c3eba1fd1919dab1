/**
 * The signal-safe critical section. Before the token is spent, SIGINT/SIGTERM stop the run at
 * once (nothing has changed). From the moment the token request is sent, a signal is only
 * recorded: the run stores (or rescues) the new token, with short retry waits, then fails.
 */
import { CANCELLED_MAX_WAIT_MS } from './retry.js'

export class CancelGuard {
  private spent = false
  /** Sleepers to wake early when a signal arrives. */
  private readonly sleepers = new Set<() => void>()
  private received: NodeJS.Signals | undefined
  private readonly handler = (signal: NodeJS.Signals): void => this.onSignal(signal)

  constructor(
    /** Ends the run: called for a signal that arrives before the token is spent. */
    private readonly abort: (signal: NodeJS.Signals) => void,
    private readonly notice: (message: string) => void
  ) {}

  install(): void {
    process.on('SIGINT', this.handler)
    process.on('SIGTERM', this.handler)
  }

  uninstall(): void {
    process.off('SIGINT', this.handler)
    process.off('SIGTERM', this.handler)
  }

  /** Marks the point of no return: the token request is about to be sent. */
  enter(): void {
    this.spent = true
    if (this.received) this.notice(`Cancellation (${this.received}) arrived as the token request was sent: storing the new token first.`)
  }

  get signal(): NodeJS.Signals | undefined {
    return this.received
  }

  isCancelled(): boolean {
    return this.received !== undefined
  }

  /** Waits `ms`, but no longer than CANCELLED_MAX_WAIT_MS from a signal on: a retry wait must not outlive the runner's patience. */
  sleep(ms: number): Promise<void> {
    const cap = (wait: number): number => Math.min(wait, CANCELLED_MAX_WAIT_MS)
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer)
        this.sleepers.delete(shorten)
        resolve()
      }
      let timer = setTimeout(finish, this.received ? cap(ms) : ms)
      const shorten = (): void => {
        clearTimeout(timer)
        timer = setTimeout(finish, cap(ms))
      }
      this.sleepers.add(shorten)
    })
  }

  private onSignal(signal: NodeJS.Signals): void {
    const first = this.received === undefined
    this.received ??= signal
    for (const shorten of [...this.sleepers]) shorten()
    if (!this.spent) {
      this.abort(signal)
      return
    }
    this.notice(
      first
        ? `Received ${signal} after the token was spent: storing the new token before stopping, so that it is not lost.`
        : `Received ${signal} again: still storing the new token.`
    )
  }
}
