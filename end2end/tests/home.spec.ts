import { test, expect } from '@playwright/test';
import { shot, watchErrors } from './util';

test('health route answers JSON', async ({ request }) => {
  const res = await request.get('/api/health');
  expect(res.status()).toBe(200);
  expect(await res.json()).toMatchObject({ status: 'ok' });
});

test('home page is rendered on the server', async ({ request }) => {
  // Raw HTML, no JavaScript: the server info must already be in it.
  const res = await request.get('/');
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain('Your pictures, found by meaning');
  expect(html).toContain('id="server-info"');
  expect(html).toContain('/pkg/trove.js');
});

test('home page hydrates and the theme toggle works without errors', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await expect(page.locator('h1')).toHaveText('Your pictures, found by meaning');
  await expect(page.locator('#server-info')).toBeVisible();

  // The toggle only responds once the WASM has hydrated the page; keep clicking until it does
  // (a click before hydration is a no-op, never a navigation).
  const toggle = page.locator('#theme-toggle');
  await expect(toggle).toHaveText('Theme: system');
  await expect(async () => {
    await toggle.click();
    await expect(toggle).toHaveText('Theme: light', { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  const background = () => page.locator('body').evaluate((el) => getComputedStyle(el).backgroundColor);
  const lightBg = await background();

  await toggle.click();
  await expect(toggle).toHaveText('Theme: dark');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(await background()).not.toBe(lightBg);

  // The choice survives a reload (local storage + the early script in <head>).
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.screenshot({ path: shot('home-dark'), fullPage: true });

  await expect(toggle).toHaveText('Theme: dark');
  await toggle.click();
  await expect(toggle).toHaveText('Theme: system');
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /.+/);
  await page.screenshot({ path: shot('home'), fullPage: true });

  expect(errors).toEqual([]);
});

test('unknown pages get a 404 with a way back', async ({ page }) => {
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.getByText('This page does not exist.')).toBeVisible();
});
