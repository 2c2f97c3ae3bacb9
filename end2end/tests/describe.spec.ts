import { test, expect } from '@playwright/test';
import { shot, watchErrors } from './util';

// The demo model tags the generated demo library from its own vocabulary (colours, shapes,
// backgrounds, signs, memes) and the demo captioner writes a caption for each picture; both
// are in the keyword index.

type Hit = { id: number; caption?: string; tags?: string[] };

test('the lightbox shows the caption and tags, and a tag searches its pictures', async ({ page, request }) => {
  const errors = watchErrors(page);
  await page.goto('/search?q=a+red+circle');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const first = page.locator('#results li.result').first();
  await first.locator('a').click();
  await expect(page.locator('#lightbox')).toBeVisible();
  await expect(page.locator('#lightbox-caption')).toHaveText(/\w{3,}/);
  const tag = page.locator('#lightbox-tags a').first();
  await expect(tag).toBeVisible();
  const name = (await tag.textContent())!.trim();
  await page.screenshot({ path: shot('lightbox-caption-tags') });
  await tag.click();
  await expect(page).toHaveURL(/\/search\?q=tag%3A/);
  await expect(page.locator('#results li.result').first()).toBeVisible();
  // Every picture listed has the tag.
  const res = await request.get(`/api/search?q=${encodeURIComponent(`tag:"${name}"`)}&limit=200`);
  expect(res.status()).toBe(200);
  const hits: Hit[] = (await res.json()).hits;
  expect(hits.length).toBeGreaterThan(0);
  for (const h of hits) expect(h.tags ?? []).toContain(name);
  expect(errors).toEqual([]);
});

test('the home page lists the common tags to browse', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  const tags = page.locator('#common-tags a.common-tag');
  await expect(tags.first()).toBeVisible();
  expect(await tags.count()).toBeGreaterThan(3);
  await page.screenshot({ path: shot('home-tags'), fullPage: false });
  await tags.first().click();
  await expect(page).toHaveURL(/\/search\?q=tag%3A/);
  await expect(page.locator('#results li.result').first()).toBeVisible();
  expect(errors).toEqual([]);
});

test('the words of a caption find its picture through the keyword index', async ({ request }) => {
  const some = await (await request.get('/api/search?q=a+blue+star&limit=20')).json();
  const captioned = (some.hits as Hit[]).find((h) => (h.caption ?? '').split(' ').length >= 3);
  expect(captioned, 'a captioned picture').toBeTruthy();
  // text: asks the keyword index only; the caption's words are all in the picture's row.
  const res = await request.get(`/api/search?q=${encodeURIComponent(`text:${captioned!.caption}`)}&limit=200`);
  expect(res.status()).toBe(200);
  const ids = ((await res.json()).hits as Hit[]).map((h) => h.id);
  expect(ids).toContain(captioned!.id);
});
