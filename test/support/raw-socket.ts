/**
 * A raw keep-alive TCP connection to a loopback server, for tests that must see exactly what the
 * server does to a connection (graceful shutdown, keep-alive timing): every byte received, and
 * whether the connection ended cleanly or was reset.
 */
import net from 'node:net';

export interface RawConnection {
  socket: net.Socket;
  /** Everything received so far. */
  text(): string;
  closed: Promise<'end' | 'reset'>;
}

export function connectRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    const closed = new Promise<'end' | 'reset'>((done) => {
      socket.on('error', () => done('reset'));
      socket.on('close', (hadError) => done(hadError ? 'reset' : 'end'));
    });
    socket.once('connect', () => resolve({ socket, text: () => text, closed }));
    socket.once('error', reject);
  });
}
