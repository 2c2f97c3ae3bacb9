import { expect, type APIRequestContext, type Page } from '@playwright/test';

/** Collects page errors, console errors and failed responses while a test runs. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return errors;
}

/** Where screenshots go; .ci/run keeps them as artefacts. */
export function shot(name: string): string {
  return `screenshots/${name}.png`;
}

/** Adds `dir` as a library on the home page, retrying while the form hydrates (a click before
 * then posts it natively and reloads the page). */
export async function addLibrary(page: Page, dir: string): Promise<void> {
  await expect(async () => {
    await page.locator('#library-path').fill(dir);
    await page.locator('#add-library button').click();
    await expect(page.locator('#library-message')).toContainText('added', { timeout: 2000 });
  }).toPass({ timeout: 30_000 });
}

/** Waits until no crawl runs and the library at `dir` holds `files` files. */
export async function waitForCrawl(request: APIRequestContext, dir: string, files: number): Promise<void> {
  await expect(async () => {
    const status = await (await request.get('/api/status')).json();
    expect(status.crawl.running).toBe(false);
    const list = await (await request.get('/api/libraries')).json();
    expect(list.libraries.find((r: { path: string }) => r.path === dir)?.files).toBe(files);
  }).toPass({ timeout: 90_000 });
}
