/**
 * The init command's terminal: lines out, answers in. A visible answer is read with readline; a
 * secret with the terminal in raw mode and nothing echoed — not the characters, not a star for each
 * (the length of a secret is worth hiding too). Ctrl-C at a prompt, or the end of input, cancels.
 */
import { createInterface } from 'node:readline'

/** The person stopped init at a prompt (Ctrl-C, or the end of input). */
export class Cancelled extends Error {
  constructor() {
    super('cancelled at a prompt')
  }
}

export interface Terminal {
  /** Answers can be asked for (the input is a terminal). */
  readonly interactive: boolean
  /** What is printed is read on a screen (the output is a terminal), not kept in a log. */
  readonly screen: boolean
  /** A line (or lines) to the output. */
  print(text: string): void
  /** A line to the error output. */
  error(text: string): void
  /** Asks, and returns the answer without its line break; hidden: typed without echo. */
  ask(label: string, options?: { hidden?: boolean }): Promise<string>
}

/** What the terminal needs of an input stream: node's process.stdin, or a test's stand-in. */
interface Input extends NodeJS.ReadableStream {
  isTTY?: boolean
  setRawMode?(mode: boolean): unknown
}

interface Output extends NodeJS.WritableStream {
  isTTY?: boolean
}

export function streamTerminal(input: Input, output: Output, errorOutput: Output): Terminal {
  const interactive = input.isTTY === true && typeof input.setRawMode === 'function'
  // An output that closes (`init … | tee log`, and the Ctrl-C that stops init kills tee; a terminal
  // closed) must not end init between the spend and the store with an uncaught EPIPE or EIO: what
  // cannot be shown is dropped, and the work goes on (the refresh token is stored all the same).
  const dropped = (): void => undefined
  output.on('error', dropped)
  errorOutput.on('error', dropped)

  const visible = (label: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const rl = createInterface({ input, output, terminal: true })
      let answered = false
      rl.on('SIGINT', () => rl.close())
      rl.on('close', () => {
        if (!answered) {
          output.write('\n')
          reject(new Cancelled())
        }
      })
      rl.question(label, (answer) => {
        answered = true
        rl.close()
        resolve(answer)
      })
    })

  const hidden = (label: string): Promise<string> =>
    new Promise((resolve, reject) => {
      // Echo off first, then the prompt: an answer typed the moment the prompt shows is never echoed.
      input.setRawMode?.(true)
      output.write(label)
      let value = ''
      let escape = false
      const finish = (error?: Error): void => {
        input.removeListener('data', onData)
        input.removeListener('end', onEnd)
        input.setRawMode?.(false)
        input.pause()
        output.write('\n')
        if (error) reject(error)
        else resolve(value)
      }
      const onEnd = (): void => finish(new Cancelled())
      const onData = (chunk: Buffer | string): void => {
        for (const ch of chunk.toString()) {
          if (escape) {
            // An escape sequence (an arrow key, a bracketed paste's markers) ends with a letter or '~'.
            if (/[A-Za-z~]/.test(ch)) escape = false
            continue
          }
          if (ch === '\r' || ch === '\n') return finish()
          if (ch === '\u0003' || (ch === '\u0004' && value === '')) return finish(new Cancelled())
          if (ch === '\u001b') escape = true
          else if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('')
          else if (ch === '\u0015') value = ''
          else if (ch >= ' ') value += ch
        }
      }
      input.on('data', onData)
      input.on('end', onEnd)
      input.resume()
    })

  return {
    interactive,
    screen: output.isTTY === true,
    print: (text) => void output.write(`${text}\n`),
    error: (text) => void errorOutput.write(`${text}\n`),
    ask: (label, options = {}) => (options.hidden ? hidden(label) : visible(label))
  }
}
