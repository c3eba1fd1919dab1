/**
 * The signal-safe critical section. Before the token is spent, SIGINT/SIGTERM stop the run at
 * once (nothing has changed). From the moment the token request is sent, a signal is only
 * recorded: the run stores (or rescues) the new token, with short retry waits, then fails.
 *
 * The runner's cancel sequence (actions/runner, ProcessInvoker): SIGINT, then SIGTERM 7.5 s later,
 * then SIGKILL 2.5 s after that. So a signal after the spend also
 * - tells the listeners at once (the run prints its sealed rescue line there and then), and
 * - starts a budget: `deadline` aborts `budgetMs` after the first signal, or `afterTermMs` after a
 *   SIGTERM, whichever comes first, so that the writes give up and the run ends before the kill.
 */
import { CANCELLED_MAX_WAIT_MS } from './retry.js'

export interface CancelBudget {
  /** From the first signal after the spend to the deadline. Default 5000 ms (SIGKILL comes at 10 s). */
  budgetMs: number
  /** From a SIGTERM to the deadline. Default 1500 ms (SIGKILL comes 2.5 s after SIGTERM). */
  afterTermMs: number
}

const DEFAULT_BUDGET: CancelBudget = { budgetMs: 5000, afterTermMs: 1500 }
/** The signals a runner sends. The init command, run at a terminal, adds SIGHUP (the terminal closed). */
const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']

export class CancelGuard {
  private spent = false
  /** Sleepers to wake early when a signal arrives. */
  private readonly sleepers = new Set<() => void>()
  private readonly listeners = new Set<(signal: NodeJS.Signals) => void>()
  private received: NodeJS.Signals | undefined
  private readonly handler = (signal: NodeJS.Signals): void => this.onSignal(signal)
  private readonly cancelling = new AbortController()
  private readonly ending = new AbortController()
  private deadlineAt = Infinity
  private deadlineTimer: NodeJS.Timeout | undefined

  constructor(
    /** Ends the run: called for a signal that arrives before the token is spent. */
    private readonly abort: (signal: NodeJS.Signals) => void,
    private readonly notice: (message: string) => void,
    private readonly budget: CancelBudget = DEFAULT_BUDGET,
    private readonly signals: readonly NodeJS.Signals[] = DEFAULT_SIGNALS
  ) {}

  install(): void {
    for (const signal of this.signals) process.on(signal, this.handler)
  }

  uninstall(): void {
    for (const signal of this.signals) process.off(signal, this.handler)
    clearTimeout(this.deadlineTimer)
  }

  /** Marks the point of no return: the token request is about to be sent. */
  enter(): void {
    this.spent = true
    if (this.received) {
      this.notice(`Cancellation (${this.received}) arrived as the token request was sent: storing the new token first.`)
      this.startBudget(this.received)
    }
  }

  get signal(): NodeJS.Signals | undefined {
    return this.received
  }

  isCancelled(): boolean {
    return this.received !== undefined
  }

  /** Aborted at the first signal: start no new attempt that spends a token. */
  get cancelled(): AbortSignal {
    return this.cancelling.signal
  }

  /** Aborted when the time left before the runner's kill is used up: stop every request. */
  get deadline(): AbortSignal {
    return this.ending.signal
  }

  /** Calls `listener` at the first signal after the spend (at once if it already came). */
  onSpentSignal(listener: (signal: NodeJS.Signals) => void): () => void {
    if (this.spent && this.received) listener(this.received)
    else this.listeners.add(listener)
    return () => this.listeners.delete(listener)
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

  private startBudget(signal: NodeJS.Signals): void {
    const now = Date.now()
    const at = Math.min(this.deadlineAt, now + (signal === 'SIGTERM' ? this.budget.afterTermMs : this.budget.budgetMs))
    if (at >= this.deadlineAt) return
    this.deadlineAt = at
    clearTimeout(this.deadlineTimer)
    // Not unref'd: a write that waits only for this deadline must still be woken by it. uninstall()
    // clears it, so it never keeps a finished run alive.
    this.deadlineTimer = setTimeout(() => this.ending.abort(new Error('the run was cancelled and its time is up')), at - now)
  }

  private onSignal(signal: NodeJS.Signals): void {
    const first = this.received === undefined
    this.received ??= signal
    if (first) this.cancelling.abort(new Error(`cancelled (${signal})`))
    for (const shorten of [...this.sleepers]) shorten()
    if (!this.spent) {
      this.abort(signal)
      return
    }
    this.startBudget(signal)
    this.notice(
      first
        ? `Received ${signal} after the token was spent: storing the new token before stopping, so that it is not lost.`
        : `Received ${signal} again: still storing the new token.`
    )
    if (first) for (const listener of [...this.listeners]) listener(signal)
  }
}
