#!/usr/bin/env node
/**
 * The SPA at a year's size (issue 10): 5,000 memos seeded through the API, then, in Debian's
 * Chromium, the time from pressing Enter on the login form to the first memo on screen, the JS
 * heap and DOM nodes after scrolling through 500 memos, and the time from the last keystroke of
 * a search to its results. Reported, never asserted.
 *
 *   node bench/spa/measure.mjs [--memos N] [--scroll N] [--no-build]
 *
 * Needs web/node_modules (npm ci in web/) and the memo binary: $MEMO_BIN, default
 * $CARGO_TARGET_DIR/debug/memo (built with `cargo build -p memo` unless --no-build). It builds
 * web/dist unless --no-build. A release binary (`cargo build --release -p memo`, then
 * MEMO_BIN=target/release/memo) gives the figures to quote; a debug one is slower on the
 * server's side only.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const WEB = join(ROOT, 'web')
const { chromium } = createRequire(join(WEB, 'package.json'))('@playwright/test')

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const MEMOS = option('--memos', 5000)
const SCROLL = option('--scroll', 500)
const BUILD = !args.includes('--no-build')
const SEARCH_WORD = 'キウイ'
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'jwt-memo', 'target')
const MEMO_BIN = process.env.MEMO_BIN ?? join(target, 'debug', 'memo')

function log(line) {
  process.stderr.write(`spa-bench: ${line}\n`)
}

async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'memo-spa-bench-'))
  const child = spawn(MEMO_BIN, ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, MEMO_RATE_LIMITS: 'off', RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('memo did not start within 30 s')), 30_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /memo listening on (http:\/\/\S+)/.exec(line)
      if (m) {
        clearTimeout(timer)
        ok(m[1].replace(/\/+$/, ''))
      }
    })
    child.once('exit', (code) => fail(new Error(`memo exited with ${code}`)))
  })
  return {
    url,
    async stop() {
      const exited = new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()))
      child.kill('SIGTERM')
      await exited
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A user with MEMOS memos through the API; every 500th mentions SEARCH_WORD. */
async function seed(url, user) {
  const post = (path, body, cookies = '') =>
    fetch(`${url}/api${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: cookies, 'X-CSRF-TOKEN': csrf(cookies) },
      body: JSON.stringify(body),
    })
  const csrf = (cookies) => /(?:^|; )(?:__Host-)?csrf_access_token=([^;]*)/.exec(cookies)?.[1] ?? ''
  if ((await post('/auth/register', user)).status !== 201) throw new Error('register failed')
  const login = await post('/auth/login', user)
  const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
  const started = Date.now()
  const PARALLEL = 8
  for (let i = 1; i <= MEMOS; i += PARALLEL) {
    await Promise.all(
      Array.from({ length: Math.min(PARALLEL, MEMOS - i + 1) }, async (_, k) => {
        const n = i + k
        const content = `${n % 500 === 0 ? `${SEARCH_WORD}を買う。` : ''}今日のメモ ${n}: 会議の記録と買い物の予定。Notes for the day, item ${n}.`
        const r = await post('/memos', { title: `Memo ${String(n).padStart(4, '0')}`, content }, cookies)
        if (r.status !== 201) throw new Error(`POST /memos: ${r.status}`)
      }),
    )
  }
  log(`seeded ${MEMOS} memos in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

/** Whether the element is on screen now (Playwright's isVisible ignores the viewport). */
async function onScreen(locator) {
  if ((await locator.count()) === 0) return false
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect()
    return r.bottom > 0 && r.top < window.innerHeight
  })
}

async function metrics(cdp) {
  await cdp.send('HeapProfiler.collectGarbage')
  const { metrics: list } = await cdp.send('Performance.getMetrics')
  const get = (name) => list.find((m) => m.name === name)?.value ?? NaN
  return { heapMB: get('JSHeapUsedSize') / 1024 / 1024, nodes: get('Nodes') }
}

async function measure(url, user) {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`)
  }
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Performance.enable')
    const pages = []
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/api/memos' && r.request().method() === 'GET') pages.push(r.headers().link ?? '')
    })

    // 1. Login to the first memo on screen, timed inside the page from the Enter keydown.
    await page.goto(`${url}/login`)
    await page.locator('[data-testid=login-username] input').fill(user.user_name)
    await page.locator('[data-testid=login-password] input').fill(user.password)
    await page.evaluate(() => {
      window.__enterAt = 0
      document.addEventListener('keydown', (e) => e.key === 'Enter' && !window.__enterAt && (window.__enterAt = performance.now()), true)
    })
    await page.locator('[data-testid=login-password] input').press('Enter')
    await page.locator('[data-testid=memo-card]').first().waitFor({ state: 'visible', timeout: 120_000 })
    const loginToFirstMemo = await page.evaluate(
      () => new Promise((r) => requestAnimationFrame(() => r(performance.now() - window.__enterAt))),
    )

    // 2. Scroll through SCROLL memos, as a reader would, a screen at a time.
    const seen = new Set()
    for (let step = 0; step < 5000 && seen.size < SCROLL; step++) {
      const ids = await page.evaluate(
        () =>
          new Promise((r) => {
            window.scrollBy(0, window.innerHeight * 0.9)
            requestAnimationFrame(() =>
              requestAnimationFrame(() => r([...document.querySelectorAll('[data-memo-id]')].map((e) => e.dataset.memoId))),
            )
          }),
      )
      ids.forEach((id) => seen.add(id))
      if (await onScreen(page.locator('[data-testid=memos-all-shown]'))) break
      // At the end of what is loaded: let the next page arrive before scrolling on.
      await page.locator('[data-testid=memo-list-end] .v-progress-circular').waitFor({ state: 'detached' })
    }
    const afterScroll = await metrics(cdp)
    const domElements = await page.evaluate(() => document.getElementsByTagName('*').length)

    // 3. The last keystroke of a search to its results on screen.
    await page.evaluate(() => window.scrollTo(0, 0))
    const field = page.locator('[data-testid=search-field] input')
    await field.click()
    // Typed text arrives as input events (Japanese has no key presses of its own).
    await page.evaluate(() => {
      document.addEventListener('input', () => (window.__lastKey = performance.now()), true)
    })
    await field.pressSequentially(SEARCH_WORD, { delay: 60 })
    const searchMs = await page.evaluate(
      (word) =>
        new Promise((r) => {
          const check = () => {
            const shown = document.querySelector('[data-testid=search-results-for]')?.textContent?.includes(word)
            const busy = document.querySelector('[data-testid=memos-loading]')
            const result = document.querySelector('[data-testid=memo-card], [data-testid=search-empty]')
            if (shown && !busy && result) r(performance.now() - window.__lastKey)
            else requestAnimationFrame(check)
          }
          check()
        }),
      SEARCH_WORD,
    )
    const hits = await page.locator('[data-testid=memo-card]').count()
    return { loginToFirstMemo, seen: seen.size, afterScroll, domElements, searchMs, hits, paged: pages.some((l) => /rel="?next/.test(l)) }
  } finally {
    await browser.close()
  }
}

if (BUILD) {
  log('building web/dist and memo')
  execFileSync('npm', ['run', 'build-only'], { cwd: WEB, stdio: 'inherit' })
  execFileSync('cargo', ['build', '-p', 'memo'], { cwd: ROOT, stdio: 'inherit' })
}
const server = await startServer()
try {
  const user = { user_name: `bench-${Date.now().toString(36)}`, password: 'bench-password-1' }
  await seed(server.url, user)
  const r = await measure(server.url, user)
  const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
  const chromiumVersion = execFileSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version']).toString().trim()
  console.log(`SPA with ${MEMOS.toLocaleString('en')} memos (${rev}, ${chromiumVersion}, server ${r.paged ? 'paged (Link: next)' : 'NOT paged: one response with every memo'})`)
  console.log(`command: node bench/spa/measure.mjs${args.length ? ` ${args.join(' ')}` : ''}  (MEMO_BIN=${MEMO_BIN})`)
  console.log('| measure | value | target |')
  console.log('|---|---:|---:|')
  console.log(`| login (Enter) to the first memo on screen | ${Math.round(r.loginToFirstMemo)} ms | < 1,000 ms |`)
  console.log(`| JS heap after scrolling through ${r.seen} memos | ${r.afterScroll.heapMB.toFixed(1)} MB | < 100 MB |`)
  console.log(`| DOM nodes then (CDP Nodes; elements in the document) | ${r.afterScroll.nodes} (${r.domElements}) | < 5,000 |`)
  console.log(`| last keystroke of a search to its results (${r.hits} cards shown) | ${Math.round(r.searchMs)} ms | < 500 ms |`)
} finally {
  await server.stop()
}
