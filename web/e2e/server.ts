/**
 * Starts the real `memo` binary for the e2e tests:
 * `$MEMO_BIN serve --bind 127.0.0.1:0 --data-dir <fresh temp dir>`, then reads the URL from its
 * `memo listening on http://127.0.0.1:PORT` line.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export function memoBinary(): string {
  if (process.env.MEMO_BIN) return process.env.MEMO_BIN
  const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'jwt-memo', 'target')
  return join(target, 'debug', 'memo')
}

export interface MemoServer {
  url: string
  dataDir: string
  logFile: string
  stop(): Promise<void>
}

let serial = 0

export async function startMemoServer(env: Record<string, string> = {}): Promise<MemoServer> {
  const bin = memoBinary()
  if (!existsSync(bin)) {
    throw new Error(`memo binary not found at ${bin}: build it with \`cargo build -p memo\` or set MEMO_BIN`)
  }
  if (!existsSync(join(WEB_DIR, 'dist', 'index.html'))) {
    throw new Error('web/dist is missing: run `npm run build` in web/ first')
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'memo-e2e-'))
  const logDir = join(WEB_DIR, 'test-results')
  mkdirSync(logDir, { recursive: true })
  serial += 1
  const logFile = join(logDir, `memo-server-${process.pid}-${serial}.log`)
  const log = createWriteStream(logFile)

  const child: ChildProcess = spawn(bin, ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, MEMO_RATE_LIMITS: 'off', RUST_LOG: process.env.RUST_LOG ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stderr?.pipe(log, { end: false })

  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`memo did not report its URL within 30 s; see ${logFile}`)), 30_000)
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      log.write(`${line}\n`)
      const m = /memo listening on (http:\/\/\S+)/.exec(line)
      if (m?.[1]) {
        clearTimeout(timer)
        resolveUrl(m[1].replace(/\/+$/, ''))
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`memo exited early (code ${code}, signal ${signal}); see ${logFile}`))
    })
    child.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  }).catch((e: unknown) => {
    child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
    throw e
  })

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
    log.end()
    rmSync(dataDir, { recursive: true, force: true })
  }

  return { url, dataDir, logFile, stop }
}
