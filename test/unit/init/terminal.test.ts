import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough, Writable } from 'node:stream'
import { Cancelled, streamTerminal, type Terminal } from '../../../src/init/terminal.js'

/** A terminal's input: a stream that says it is a TTY and records its raw mode. */
function tty() {
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    modes: [] as boolean[],
    setRawMode(mode: boolean) {
      input.modes.push(mode)
      return input
    }
  })
  const output = Object.assign(new PassThrough(), { isTTY: true })
  const errors = new PassThrough()
  let shown = ''
  output.on('data', (chunk: Buffer) => (shown += chunk.toString()))
  let errorText = ''
  errors.on('data', (chunk: Buffer) => (errorText += chunk.toString()))
  const terminal = streamTerminal(input, output, errors)
  return { input, terminal, shown: () => shown, errors: () => errorText }
}

/** Types `text` once the prompt is written (readline writes it before it listens). */
function type(input: PassThrough, ...chunks: string[]): void {
  setImmediate(() => {
    for (const chunk of chunks) input.write(chunk)
  })
}

describe('the terminal', () => {
  test('an output that fails (EPIPE: the reader of a pipe is gone) is dropped, never an uncaught error', async () => {
    const broken = (): Writable =>
      new Writable({
        write(_chunk, _encoding, callback) {
          callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))
        }
      })
    const output = broken()
    const errors = broken()
    const terminal = streamTerminal(new PassThrough(), output, errors)
    terminal.print('a line nobody reads')
    terminal.error('an error nobody reads')
    // Without a listener, the stream's 'error' would be thrown as an uncaught exception.
    const closed = (stream: Writable): Promise<void> => new Promise((resolve) => stream.on('close', resolve))
    await Promise.all([closed(output), closed(errors)])
    terminal.print('and after the stream is gone')
    terminal.error('still nothing thrown')
  })

  test('interactive and on a screen only when both ends are terminals', () => {
    const { terminal } = tty()
    assert.deepEqual([terminal.interactive, terminal.screen], [true, true])
    const plain = streamTerminal(new PassThrough(), new PassThrough(), new PassThrough())
    assert.deepEqual([plain.interactive, plain.screen], [false, false])
  })

  test('print and error write lines', () => {
    const t = tty()
    t.terminal.print('one')
    t.terminal.error('two')
    assert.equal(t.shown(), 'one\n')
    assert.equal(t.errors(), 'two\n')
  })

  test('a visible answer is read with readline', async () => {
    const t = tty()
    type(t.input, 'demo\r')
    assert.equal(await t.terminal.ask('Account: '), 'demo')
    assert.match(t.shown(), /Account: /)
    assert.match(t.shown(), /demo/, 'readline echoes what is typed')
  })

  test('a hidden answer: raw mode on before the prompt, nothing echoed, editing keys honoured, raw mode off after', async () => {
    const t = tty()
    type(t.input, 'ab', 'x\u007fc', '\u001b[D', '\u001b[200~d\u001b[201~', '\r')
    assert.equal(await t.terminal.ask('Secret: ', { hidden: true }), 'abcd')
    assert.deepEqual(t.input.modes, [true, false])
    assert.equal(t.shown(), 'Secret: \n', 'not one character of it, nor a star')
    type(t.input, 'wrong\u0015right\n')
    assert.equal(await t.terminal.ask('Again: ', { hidden: true }), 'right', 'Ctrl-U clears')
    type(t.input, 'é\b\u0001z\r')
    assert.equal(await t.terminal.ask('More: ', { hidden: true }), 'z', 'backspace; other control characters are not part of it')
  })

  test('Ctrl-C at a prompt, Ctrl-D on an empty answer, or the end of input cancel', async () => {
    const cancelled = async (terminal: Terminal, hidden: boolean) =>
      assert.rejects(terminal.ask('Q: ', { hidden }), (error: Error) => error instanceof Cancelled)
    let t = tty()
    type(t.input, 'abc\u0003')
    await cancelled(t.terminal, true)
    assert.deepEqual(t.input.modes, [true, false], 'raw mode is off again')
    t = tty()
    type(t.input, '\u0004')
    await cancelled(t.terminal, true)
    t = tty()
    type(t.input, 'a\u0004\r')
    assert.equal(await t.terminal.ask('Q: ', { hidden: true }), 'a', 'Ctrl-D after something is nothing')
    t = tty()
    setImmediate(() => t.input.end())
    await cancelled(t.terminal, true)
    t = tty()
    type(t.input, '\u0003')
    await cancelled(t.terminal, false)
    t = tty()
    setImmediate(() => t.input.end())
    await cancelled(t.terminal, false)
  })
})
