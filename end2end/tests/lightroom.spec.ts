import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { addLibrary, shot, waitForCrawl, watchErrors } from './util';

// A photographer's Lightroom catalog: `trove synth --lightroom` writes generated pictures and a
// catalog of them in Lightroom Classic's schema (titles from their captions, keywords from
// their colours and shapes, stars, picks, a collection). The admin adds the folder, then the
// catalog, on the home page; the catalog's keywords find pictures and the lightbox shows them.

const trove = process.env.TROVE_BIN ?? '../target/debug/trove';

test('a keyword from an imported Lightroom catalog finds its picture, and the lightbox shows its rating, keywords and collection', async ({ page, request }) => {
  test.setTimeout(180_000);
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trove-e2e-lr-'));
  execFileSync(trove, ['synth', dir, '--count', '12', '--seed', '77', '--lightroom'], { stdio: 'pipe' });
  const catalog = path.join(fs.realpathSync(dir), 'Trove demo.lrcat');
  expect(fs.existsSync(catalog)).toBe(true);

  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await addLibrary(page, dir);
  await waitForCrawl(request, fs.realpathSync(dir), 12);
  const input = page.locator('#library-path');

  const errors = watchErrors(page);
  await input.fill(catalog);
  await page.locator('#add-library button').click();
  await expect(page.locator('#library-message')).toContainText('12 photos, 12 matched');
  await expect(page.locator(`#catalogs li[data-path="${catalog}"]`)).toBeVisible();

  // Five stars: indices 5 and 11 (stars are the index modulo 6); neither is every third.
  await page.goto(`/search?q=${encodeURIComponent('rating:5 collection:"Every third"')}`);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#no-results, #results')).toBeVisible();
  await expect(page.locator('#results li.result')).toHaveCount(0);
  const best = (await (await request.get(`/api/search?q=${encodeURIComponent('rating:5')}`)).json()).hits as {
    id: number;
    catalog?: { keywords?: string[]; rating?: number };
  }[];
  expect(best).toHaveLength(2);
  for (const h of best) expect(h.catalog?.rating).toBe(5);
  const shown = best.find((h) => (h.catalog?.keywords ?? []).length > 0) ?? best[0];
  await page.goto(`/search?q=${encodeURIComponent('rating:5')}`);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#results li.result')).toHaveCount(2);
  await page.locator(`#results li.result[data-id="${shown.id}"] a`).first().click();
  await expect(page.locator('#lightbox')).toBeVisible();
  const box = page.locator('#lightbox-catalog');
  await expect(box).toContainText('From Trove demo.lrcat');
  await expect(page.locator('#lightbox-rating')).toContainText('★★★★★');
  await expect(page.locator('#lightbox-collections')).toHaveCount(0);
  const keyword = page.locator('#lightbox-keywords a').first();
  expect((shown.catalog?.keywords ?? []).length).toBeGreaterThan(0);
  await expect(keyword).toBeVisible();
  const word = (await keyword.textContent())!.trim();
  await page.screenshot({ path: shot('lightbox-lightroom') });
  await keyword.click();
  await expect(page).toHaveURL(/\/search\?q=keyword%3A/);
  await expect(page.locator('#results li.result').first()).toBeVisible();
  const res = await request.get(`/api/search?q=${encodeURIComponent(`keyword:${word}`)}&limit=200`);
  const hits = (await res.json()).hits as { catalog?: { keywords?: string[] } }[];
  expect(hits.length).toBeGreaterThan(0);
  for (const h of hits) expect((h.catalog?.keywords ?? []).some((k) => k.endsWith(` > ${word}`))).toBe(true);

  // A collection shows in the lightbox of a picture in it; typed words find titles.
  await page.goto(`/search?q=${encodeURIComponent('collection:"Every third" rating:3')}`);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('#results li.result a').first().click();
  await expect(page.locator('#lightbox-collections')).toContainText('Trove demo / Every third');
  await expect(page.locator('#lightbox-rating')).toContainText('★★★☆☆');

  // The admin removes the catalog and the folder again; the catalog's facts are gone.
  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.locator(`#catalogs li[data-path="${catalog}"] .remove-catalog`).click();
  await expect(page.locator('#library-message')).toContainText('forgot the catalog');
  const after = await (await request.get(`/api/search?q=${encodeURIComponent('rating:>=1')}`)).json();
  expect(after.hits).toHaveLength(0);
  await page.locator(`#libraries li[data-path="${fs.realpathSync(dir)}"] .remove-library`).click();
  await expect(page.locator('#library-message')).toContainText('removed');
  fs.rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
});
