// The master's HTTP server: the REST API, the live event stream and the workers' WebSocket
// endpoint (/ws/worker), all on one port.
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import type { Master } from '../master/master.js';
import type { MasterLog } from '../master/master-deps.js';
import { MAX_FRAME_BYTES } from '../protocol/messages.js';
import { webSocketTransport } from '../protocol/transports.js';
import { registerApiRoutes } from './api-routes.js';
import { toHttpError } from './http-errors.js';

export interface WebServerDeps {
  master: Master;
  log: MasterLog;
}

export interface WebServer {
  app: FastifyInstance;
  /** Listens; resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function createWebServer({ master, log }: WebServerDeps): WebServer {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) log.error(`API error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'KEEL_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });
  registerApiRoutes(app, master, log);
  app.get('/', async (_req, reply) => reply.type('text/plain').send(`Keel master ${master.masterName}: the API is under /api/v1/, workers connect to /ws/worker\n`));

  const wss = new WebSocketServer({
    noServer: true, maxPayload: MAX_FRAME_BYTES,
    // Frames are JSON, parsed right after; checking the UTF-8 twice costs ~10% of log throughput.
    skipUTF8Validation: true,
  });
  app.server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/ws/worker') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err) => log.warn(`worker socket error: ${err.message}`));
      master.acceptWorker(webSocketTransport(ws), `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`);
    });
  });

  return {
    app,
    async listen(port, host) {
      await app.listen({ port, host });
      const address = app.server.address();
      return typeof address === 'object' && address ? address.port : port;
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await app.close();
    },
  };
}
