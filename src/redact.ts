/**
 * What may be printed. Every secret value seen in the run is redacted from every line, and every
 * piece of text that came from a server is hostile until made inert here: bounded before any
 * regular expression sees it, redacted before it is cut to length, and neutralised so that the
 * runner cannot read a workflow command in it.
 */
/** Removes secrets from text; see SecretRegistry. */
export type Redact = (text: string) => string

/** Any run of this many characters of a secret is a leak: the runner's masker only hides whole values. */
const SECRET_RUN = 12

/**
 * Keeps the list of secret values seen in this run and removes them from any text before it is
 * printed, so a message quoting a server's answer can never print a token even outside a runner
 * (where ::add-mask:: does nothing). Besides whole values it hides every run of SECRET_RUN or more
 * characters taken from a secret: a server that echoes part of a token, or text cut in the middle
 * of one, shows at most SECRET_RUN - 1 of its characters.
 */
export class SecretRegistry {
  private readonly values = new Set<string>()
  private readonly runs = new Set<string>()

  /** Adds a value; true when it is new (and so still needs masking). */
  add(value: string): boolean {
    if (!value || this.values.has(value)) return false
    this.values.add(value)
    for (let i = 0; i + SECRET_RUN <= value.length; i++) this.runs.add(value.slice(i, i + SECRET_RUN))
    return true
  }

  redact(text: string): string {
    let out = text
    // Longest first, so a secret that contains another is replaced whole.
    for (const value of [...this.values].sort((a, b) => b.length - a.length)) {
      if (out.includes(value)) out = out.split(value).join('***')
    }
    if (this.runs.size === 0 || out.length < SECRET_RUN) return out
    // Mark every character covered by a window that is a piece of a secret, then collapse each
    // marked stretch into one '***'. Linear in the text: one set lookup per position.
    let covered: Uint8Array | undefined
    for (let i = 0; i + SECRET_RUN <= out.length; i++) {
      if (this.runs.has(out.slice(i, i + SECRET_RUN))) (covered ??= new Uint8Array(out.length)).fill(1, i, i + SECRET_RUN)
    }
    if (!covered) return out
    let result = ''
    for (let i = 0; i < out.length; i++) {
      if (!covered[i]) result += out[i]
      else if (i === 0 || !covered[i - 1]) result += '***'
    }
    return result
  }
}

/** The most of a server's answer that is ever looked at for a message. */
export const SERVER_TEXT_MAX = 16 * 1024

const ZERO_WIDTH_SPACE = '\u200b'

/**
 * Breaks every workflow command the runner could find in `text`: the old `##[command]` syntax,
 * which the runner honours anywhere in a line, and `::` of the current one. A zero-width space
 * keeps the text readable and makes it inert (`##[stop-commands]` would switch masking off).
 */
export function inert(text: string): string {
  return text.replace(/##\[/g, `##${ZERO_WIDTH_SPACE}[`).replace(/:(?=:)/g, `:${ZERO_WIDTH_SPACE}`)
}

/** Only the old syntax: for the action's own lines, whose `::` (e.g. in `[::1]`) are meant. */
export function inertOldCommands(text: string): string {
  return text.replace(/##\[/g, `##${ZERO_WIDTH_SPACE}[`)
}

/**
 * HTML to text in one pass: tags dropped (script and style with their content), control
 * characters and runs of white space made one space. Linear: each `<` looks for its `>` only once.
 */
function plainText(html: string): string {
  let out = ''
  let i = 0
  while (i < html.length) {
    const lt = html.indexOf('<', i)
    if (lt < 0) {
      out += html.slice(i)
      break
    }
    out += html.slice(i, lt)
    const gt = html.indexOf('>', lt + 1)
    if (gt < 0) {
      // No tag closes from here on: the rest is text, not markup.
      out += html.slice(lt)
      break
    }
    const tag = /^<(script|style)\b/i.exec(html.slice(lt, lt + 8))
    if (tag?.[1]) {
      // Skip to the end of the closing tag; past it, nothing is scanned again.
      const closing = new RegExp(`</${tag[1]}[^>]*>`, 'gi')
      closing.lastIndex = gt + 1
      if (!closing.exec(html)) break
      i = closing.lastIndex
    } else {
      i = gt + 1
    }
    out += ' '
  }
  return (
    out
      .replace(/&nbsp;/g, ' ')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  )
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/**
 * A short, single-line, printable excerpt of a server's answer, for error messages: bounded,
 * made plain, redacted, made inert — and only then cut to `max` characters.
 */
export function excerpt(body: string, max: number, redact: Redact): string {
  const bounded = body.length > SERVER_TEXT_MAX ? body.slice(0, SERVER_TEXT_MAX) : body
  return cut(inert(redact(plainText(redact(bounded)))), max)
}

/**
 * A message shown as a code block: it may quote a server, and markdown around server text could
 * plant a live link or an image. Inside a fence longer than any run of backticks in it, nothing is
 * markdown.
 */
export function inertBlock(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length))
  const fence = '`'.repeat(longest + 1)
  return `${fence}text\n${text}\n${fence}`
}
