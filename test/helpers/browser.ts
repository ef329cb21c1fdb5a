/**
 * Headless Chromium (Debian's `chromium`, never a downloaded one) inside a lab namespace, driven by
 * puppeteer-core over a pipe: `ip netns exec` keeps the pipe's file descriptors, so the browser
 * reaches addresses inside the lab (loopback of that namespace included) and nothing else.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface LabBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** In the namespace `ns`, or in this process's namespace (loopback only) when null. */
export async function launchBrowserIn(ns: string | null): Promise<LabBrowser> {
  const { default: puppeteer } = await import('puppeteer-core');
  const dir = await mkdtemp(join(tmpdir(), 'mesh-browser-'));
  const wrapper = join(dir, 'chromium-in-netns');
  await writeFile(wrapper, `#!/bin/sh\nexec ${ns ? `ip netns exec ${ns} ` : ''}${CHROMIUM} "$@"\n`);
  await chmod(wrapper, 0o755);
  const browser = await puppeteer.launch({
    executablePath: wrapper,
    headless: true,
    pipe: true,
    userDataDir: join(dir, 'profile'),
    // Root in a namespace: no sandbox; no GPU, no /dev/shm size assumptions on a loaded CI box.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    defaultViewport: { width: 1280, height: 800 },
    timeout: 60_000,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
