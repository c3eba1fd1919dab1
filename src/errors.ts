/**
 * One error path for the whole action: an ActionError carries a sentence a user can act on
 * (what failed, why, what to do). Anything else that reaches the top is a bug and is reported
 * as one, never as a stack trace and never as success. (Server text inside a message is made
 * safe by redact.ts.)
 */
export class ActionError extends Error {
  override readonly name = 'ActionError'
}

/** A bad input, found before any request left the machine. */
export class InputError extends ActionError {
  constructor(
    readonly input: string,
    problem: string
  ) {
    super(`Input '${input}' ${problem}`)
  }
}

/** The message of anything thrown, including non-Error values. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
