import net from 'node:net';

/**
 * A TCP front door to the platform for one browser, whose network can then be cut and restored:
 * block() drops every open connection (HTTP and WebSocket alike) and refuses new ones until
 * unblock(). Media (WebRTC over UDP to the SFU) does not pass here; the signaling that carries
 * the call does, so cutting it makes the client recover its call by itself.
 */
export interface BlockableProxy {
  /** The platform's URL as seen through the proxy (another origin: the browser must use it throughout). */
  url: string;
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

export async function startBlockableProxy(target: string): Promise<BlockableProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<net.Socket>();
  let blocked = false;
  const server = net.createServer((client) => {
    if (blocked) return client.destroy();
    const upstream = net.connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    block() {
      blocked = true;
      for (const socket of open) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
