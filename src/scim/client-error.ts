// Requests Node's HTTP parser refuses before any handler runs (a URL or headers over the size limit,
// a malformed request line) still get a SCIM error body, so a client sees the same shape of refusal
// for every 4xx.
import type { Duplex } from 'node:stream';
import { ERROR_SCHEMA } from './errors.js';

export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request line and headers are larger than the server accepts']
      : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ schemas: [ERROR_SCHEMA], status: String(status), detail });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/scim+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
