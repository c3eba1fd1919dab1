/**
 * A forward proxy on 127.0.0.1 that speaks CONNECT, as a self-hosted runner's proxy does: every
 * tunnel it is asked for is recorded (`host:port`, as the client named it), and `route` says which
 * local port a host:port is sent to (undefined: 502 Bad Gateway). Other methods get 405. What is
 * emulated and what deliberately is not: test/README.md, the stand-ins table.
 */
import { createServer, type IncomingMessage } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'

export interface ConnectProxy {
  /** http://127.0.0.1:PORT, for HTTPS_PROXY / HTTP_PROXY. */
  readonly url: string
  /** Every CONNECT asked for, in order (`host:port`). */
  readonly tunnels: string[]
  close(): Promise<void>
}

export async function startConnectProxy(route: (host: string, port: number) => number | undefined): Promise<ConnectProxy> {
  const tunnels: string[] = []
  const server = createServer((_req, res) => res.writeHead(405).end())
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? ''
    tunnels.push(target)
    const [host = '', port = '0'] = target.split(':')
    const to = route(host, Number(port))
    if (to === undefined) return client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n')
    const upstream = connect(to, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client).pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
