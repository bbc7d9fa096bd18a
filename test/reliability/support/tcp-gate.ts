// A TCP pass-through in front of the apiserver (TLS goes through untouched) that can cut every
// connection and refuse new ones: an apiserver outage as its clients see it, without stopping the
// apiserver for everyone else.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class TcpGate {
  private blocked = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(upstream: { host: string; port: number }): Promise<TcpGate> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const gate = new TcpGate(server, (server.address() as AddressInfo).port);
    server.on('connection', (client) => {
      if (gate.blocked) return void client.destroy();
      const up = connect(upstream.port, upstream.host);
      for (const s of [client, up]) {
        gate.sockets.add(s);
        s.on('close', () => gate.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(up);
      up.pipe(client);
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
    });
    return gate;
  }

  /** Cuts every open connection and refuses new ones until open(). */
  block(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
  }

  open(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
