// Drives tus-js-client (a tus client written by others) against a server, for the ingest
// tests. Usage: node tus-upload.mjs '<json>' with
//   { endpoint, token, files: [path...], mode: "plain" | "parallel" | "interrupt",
//     chunkSize?, parallel?, retryDelays?, concurrency? }
// `concurrency` bounds the files in flight (default: all at once).
// Prints one JSON object per line: {event:"ack", file, offset, url} after every chunk the server
// acknowledged, {event:"interrupted", file, offset} (interrupt mode: the server's offset
// after the PATCH was cut), {event:"done", file, url}, {event:"error", file, message}.
// Exits 0 when every file is done, 1 otherwise.
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { Upload } from 'tus-js-client'

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

async function interrupted(file, i) {
  // First attempt: cut the PATCH once an eighth of the file has been sent (tus-js-client
  // reports progress at most every 100 ms and loopback is fast, so the file must be large
  // for the cut to land mid-body).
  const size = readFileSync(file).length
  let first
  const url = await new Promise((resolve) => {
    first = new Upload(readFileSync(file), {
      endpoint: opts.endpoint,
      headers: auth,
      retryDelays: null,
      storeFingerprintForResuming: false,
      onProgress: (sent) => {
        if (sent >= size / 8 && sent < size && first.url) {
          first.abort()
          resolve(first.url)
        }
      },
      onError: () => {},
    })
    first.start()
  })
  // Let the server commit what arrived, then ask it where to resume.
  let offset = -1
  for (let k = 0; k < 20; k++) {
    await new Promise((r) => setTimeout(r, 100))
    const o = await head(url)
    if (o === offset) break
    offset = o
  }
  say({ event: 'interrupted', file: i, offset })
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
process.exit(failed ? 1 : 0)
