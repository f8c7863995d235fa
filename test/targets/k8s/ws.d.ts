/** The few parts of the `ws` package (a dependency of client-node, shipped without types) the fake server uses. */
declare module 'ws' {
  import type { IncomingMessage } from 'node:http';
  import type { Duplex } from 'node:stream';
  export interface WebSocket {
    readonly protocol: string;
    send(data: Buffer | string): void;
    close(): void;
    terminate(): void;
    on(event: 'message', listener: (data: Buffer) => void): this;
    addEventListener(type: 'close' | 'open' | 'error', listener: () => void): void;
  }
  export class WebSocketServer {
    constructor(options: { noServer: true; handleProtocols?: (protocols: Set<string>, req: IncomingMessage) => string | false });
    readonly clients: Set<WebSocket>;
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocket) => void): void;
  }
}
