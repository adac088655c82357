// Drives tus-js-client (a tus client written by others) against a server, for the ingest
// tests. Usage: node tus-upload.mjs '<json>' with
//   { endpoint, token, files: [path...], mode: "plain" | "parallel" | "interrupt",
//     chunkSize?, parallel?, retryDelays?, concurrency? }
// `concurrency` bounds the files in flight (default: all at once).
// Prints one JSON object per line: {event:"ack", file, offset, url} after every chunk the server
// acknowledged, {event:"interrupted", file, sent, offset} (interrupt mode: the bytes sent
// before the PATCH was cut, and the server's offset after it), {event:"done", file, url},
// {event:"error", file, message}.
// Exits 0 when every file is done, 1 otherwise.
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { DefaultHttpStack, Upload } from 'tus-js-client'

const opts = JSON.parse(process.argv[2])
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const auth = { Authorization: `Bearer ${opts.token}` }

function upload(file, i, extra) {
  const data = readFileSync(file)
  const sha256 = createHash('sha256').update(data).digest('hex')
  return new Promise((resolve, reject) => {
    const u = new Upload(data, {
      endpoint: opts.endpoint,
      headers: auth,
      metadata: { filename: file.split('/').pop(), sha256 },
      chunkSize: opts.chunkSize ?? Infinity,
      retryDelays: opts.retryDelays ?? [100, 300, 1000],
      storeFingerprintForResuming: false,
      onChunkComplete: (_size, accepted) => say({ event: 'ack', file: i, offset: accepted, url: u.url }),
      onSuccess: () => resolve(u.url),
      onError: reject,
      ...extra(),
    })
    u.start()
  })
}

async function head(url) {
  const r = await fetch(url, { method: 'HEAD', headers: { ...auth, 'Tus-Resumable': '1.0.0' } })
  return Number(r.headers.get('upload-offset'))
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// An HTTP stack that sends only the first `cut` bytes of a PATCH body (with the whole body's
// Content-Length) and then stalls, and calls `stalled()` once those bytes have left the
// process. tus-js-client's own progress reports are throttled to one per 100 ms, too
// coarse to cut a loopback PATCH at a chosen point.
class StallingHttpStack {
  constructor(cut, stalled) {
    this.inner = new DefaultHttpStack()
    this.cut = cut
    this.stalled = stalled
  }
  getName() {
    return 'StallingHttpStack'
  }
  createRequest(method, url) {
    const req = this.inner.createRequest(method, url)
    if (method !== 'PATCH') return req
    const send = req.send.bind(req)
    req.send = (body) => {
      req.setHeader('Content-Length', body.length)
      const head = new Readable({ read() {} })
      head.push(body.subarray(0, this.cut))
      const sending = send(head)
      this.flushed(head, req.getUnderlyingObject()).then(() => this.stalled())
      return sending
    }
    return req
  }
  // Done when nothing is buffered on our side for a few polls in a row (at most 10 s: the
  // test then finds what the server kept either way).
  async flushed(head, http) {
    let idle = 0
    for (let polls = 0; idle < 3 && polls < 500; polls++) {
      await sleep(20)
      const queued = head.readableLength + http.writableLength + (http.socket?.writableLength ?? 0)
      idle = queued === 0 ? idle + 1 : 0
    }
  }
}

async function interrupted(file, i) {
  // First attempt: the PATCH is cut after a quarter of the file.
  const data = readFileSync(file)
  const cut = Math.floor(data.length / 4)
  const url = await new Promise((resolve, reject) => {
    const first = new Upload(data, {
      endpoint: opts.endpoint,
      headers: auth,
      retryDelays: null,
      storeFingerprintForResuming: false,
      httpStack: new StallingHttpStack(cut, () => {
        first.abort()
        resolve(first.url)
      }),
      onSuccess: () => reject(new Error('the first PATCH finished although it was cut')),
      onError: () => {},
    })
    first.start()
  })
  // Let the server commit what arrived, then ask it where to resume.
  let offset = -1
  for (let k = 0; k < 20; k++) {
    await sleep(100)
    const o = await head(url)
    if (o === offset) break
    offset = o
  }
  say({ event: 'interrupted', file: i, sent: cut, offset })
  // Second attempt: a new Upload resumes from the server's offset.
  return upload(file, i, () => ({ uploadUrl: url, chunkSize: 4 * 1024 * 1024 }))
}

let failed = 0
async function one(file, i) {
  try {
    let url
    if (opts.mode === 'interrupt') url = await interrupted(file, i)
    else if (opts.mode === 'parallel')
      url = await upload(file, i, () => ({ parallelUploads: opts.parallel ?? 3 }))
    else url = await upload(file, i, () => ({ uploadDataDuringCreation: true }))
    say({ event: 'done', file: i, url })
  } catch (e) {
    failed++
    say({ event: 'error', file: i, message: String(e && e.message ? e.message : e) })
  }
}
// A fixed number of workers, each taking the next file when it finishes one.
let next = 0
const workers = Math.min(opts.concurrency ?? opts.files.length, opts.files.length)
await Promise.all(
  Array.from({ length: workers }, async () => {
    while (next < opts.files.length) {
      const i = next++
      await one(opts.files[i], i)
    }
  }),
)
// Exit once stdout has drained: process.exit() may drop writes still queued on a pipe.
process.stdout.write('', () => process.exit(failed ? 1 : 0))
