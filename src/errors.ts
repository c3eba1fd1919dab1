/**
 * One error path for the whole action: an ActionError carries a sentence a user can act on
 * (what failed, why, what to do). Anything else that reaches the top is a bug and is reported
 * as one, never as a stack trace and never as success.
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

/**
 * Keeps the list of secret values seen in this run and removes them from any text before it is
 * printed, so a message quoting a server's answer can never print a token even outside a runner
 * (where ::add-mask:: does nothing).
 */
export class SecretRegistry {
  private readonly values = new Set<string>()

  /** Adds a value; true when it is new (and so still needs masking). */
  add(value: string): boolean {
    if (!value || this.values.has(value)) return false
    this.values.add(value)
    return true
  }

  redact(text: string): string {
    let out = text
    // Longest first, so a secret that contains another is replaced whole.
    for (const value of [...this.values].sort((a, b) => b.length - a.length)) {
      out = out.split(value).join('***')
    }
    return out
  }
}

/** A short, single-line, printable excerpt of a server's answer, for error messages. */
export function excerpt(body: string, max = 160): string {
  const text = body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
