// @tus/server with its file store, on 127.0.0.1 at an ephemeral port: a tus server written
// by others, for the transfer crate's tests. Usage: node tus-node-server.mjs DIR
// Prints "listening PORT" once it accepts connections; stops on SIGTERM or when stdin closes.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: node tus-node-server.mjs DIR');
  process.exit(2);
}
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
