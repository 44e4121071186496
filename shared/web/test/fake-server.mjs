// A tiny in-test WebSocket server: the unit tests script its replies frame by frame.
import { WebSocketServer } from "ws";
import { once } from "node:events";

/** Starts a server on a free loopback port; `onConnection(socket, request)` scripts each connection. */
export async function fakeServer(onConnection) {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  const frames = [];
  const connections = [];
  server.on("connection", (socket, request) => {
    connections.push(socket);
    socket.on("message", (raw) => {
      const frame = JSON.parse(String(raw));
      // Every client pings once it connects; the scripts care about the other requests.
      if (frame.action === "sys.ping") return reply(socket, frame, { time: Date.now() });
      frames.push({ socket, frame });
      server.emit("frame-arrived");
    });
    onConnection(socket, request, connections.length);
  });
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    frames,
    connections,
    /** Resolves with the next request frame `accept` takes, on any connection. */
    async request(accept = () => true) {
      for (;;) {
        const found = frames.findIndex(({ frame }) => accept(frame));
        if (found >= 0) return frames.splice(found, 1)[0];
        await once(server, "frame-arrived");
      }
    },
    close() {
      for (const socket of server.clients) socket.terminate();
      return new Promise((resolve) => server.close(resolve));
    },
    server,
  };
}

/** Answers `frame` on `socket` with `data`. */
export function reply(socket, frame, data = {}) {
  socket.send(JSON.stringify({ type: "reply", reqId: frame.reqId, ok: true, data }));
}

/** Pushes an event. */
export function push(socket, event, data) {
  socket.send(JSON.stringify({ type: "event", event, data }));
}
