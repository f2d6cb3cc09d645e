import { defineConfig } from '@playwright/test'

/**
 * End-to-end tests in Debian's Chromium against the real `memo` binary (see e2e/server.ts).
 * Playwright never downloads a browser here: it drives /usr/bin/chromium.
 */
export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  // Each distinct server configuration gets its own worker (and its own server); one at a time
  // on a 2-core machine keeps timings steady.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [['list'], ['junit', { outputFile: 'test-results/junit.xml' }]] : [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
})
