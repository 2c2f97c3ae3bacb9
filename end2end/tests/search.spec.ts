import { test, expect } from '@playwright/test';
import { shot, watchErrors } from './util';

// The server runs the built-in demo model over the generated demo library (no library was
// configured), so ranking is real: the demo model was trained on images like these.

test('a shared search link renders results without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const res = await page.goto('/search?q=a+red+circle');
  expect(res?.status()).toBe(200);
  const results = page.locator('#results li.result');
  await expect(results.first()).toBeVisible();
  expect(await results.count()).toBeGreaterThan(3);
  // Each result knows its size before the thumbnail loads, and links to its look-alikes.
  const img = results.first().locator('img');
  await expect(img).toHaveAttribute('width', /\d+/);
  await expect(img).toHaveAttribute('height', /\d+/);
  await expect(results.first().locator('a')).toHaveAttribute('href', /^\/similar\/\d+$/);
  await page.screenshot({ path: shot('search-no-js'), fullPage: true });
  await context.close();
});

test('searching from the home page finds the demo images and hydrates cleanly', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await expect(page.locator('#library-summary')).toContainText('images searchable');
  await expect(page.locator('#demo-note')).toBeVisible();
  await page.locator('#q').fill('a meme that says hello');
  await page.locator('#q').press('Enter');
  await expect(page).toHaveURL(/\/search\?q=a\+meme\+that\+says\+hello/);
  await expect(page.locator('#results li.result').first()).toBeVisible();
  await page.screenshot({ path: shot('search-meme'), fullPage: true });
  expect(errors).toEqual([]);
});

test('clicking a result opens it large, and "Find similar" shows look-alikes without itself', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/search?q=a+green+triangle');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const first = page.locator('#results li.result').first();
  const id = await first.getAttribute('data-id');
  await first.locator('a').click();
  const lightbox = page.locator('#lightbox');
  await expect(lightbox).toBeVisible();
  await expect(lightbox).toHaveAttribute('data-id', id!);
  await expect(page.locator('#lightbox-facts')).toContainText('png');
  await expect(page.locator('#lightbox-image')).toHaveJSProperty('complete', true);
  expect(await page.locator('#lightbox-image').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await expect(page.locator('#lightbox-original')).toHaveAttribute('href', `/image/${id}`);
  await page.locator('#lightbox-copy').click();
  await expect(page.locator('#share-link')).toHaveValue(new RegExp(`/similar/${id}$`));
  await page.screenshot({ path: shot('lightbox') });
  await page.locator('#lightbox-similar').click();
  await expect(page).toHaveURL(new RegExp(`/similar/${id}$`));
  await expect(page.locator('#source')).toBeVisible();
  await expect(page.locator('#results li.result').first()).toBeVisible();
  const ids = await page.locator('#results li.result').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
  expect(ids.length).toBeGreaterThan(0);
  expect(ids).not.toContain(id);
  await page.screenshot({ path: shot('similar'), fullPage: true });
  expect(errors).toEqual([]);
});

test('bad search input gets a clear message, not a crash', async ({ request }) => {
  const res = await request.get(`/api/search?q=${'x'.repeat(10_000)}`);
  expect(res.status()).toBe(400);
  expect((await res.json()).error).toContain('characters');
});

test('a shared link with a script in its query shows the text and runs nothing', async ({ page }) => {
  const errors = watchErrors(page);
  let dialogs = 0;
  page.on('dialog', async (d) => {
    dialogs += 1;
    await d.dismiss();
  });
  const q = '</title><script>window.__pwned=1;alert(1)</script><img src=x onerror="window.__pwned=2">';
  await page.goto('/search?q=' + encodeURIComponent(q));
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page).toHaveTitle(`${q} · Trove`);
  await expect(page.locator('#q')).toHaveValue(q);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(dialogs).toBe(0);
  expect(errors).toEqual([]);
});

// The demo library's memes and signs carry words, and the text reader (installed by
// scripts/test.sh) has read them: COFFEE, PIZZA, HELLO… (its pixel font's M, N and W read as H).
type Span = { text: string; hit?: boolean };
type Hit = { id: number; why?: { words?: Span[]; name?: Span[]; caption?: Span[] } };
const plain = (spans: Span[] = []) => spans.map((s) => s.text).join('');

test('words printed on a meme find it first, marked, and the lightbox says why', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/search?q=coffee');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const first = page.locator('#results li.result').first();
  // The card says what the picture says, the typed word marked.
  await expect(first.locator('.why mark').first()).toHaveText(/^coffee$/i);
  await page.screenshot({ path: shot('words-search'), fullPage: false });
  await first.locator('a').click();
  await expect(page.locator('#lightbox-why')).toBeVisible();
  await expect(page.locator('#why-words mark').first()).toHaveText(/^coffee$/i);
  await page.screenshot({ path: shot('words-lightbox') });
  expect(errors).toEqual([]);
});

test('a quoted phrase lists only pictures that say it, in order', async ({ page, request }) => {
  // A phrase of two words some picture says (read by the reader, not known in advance).
  const found = await (await request.get('/api/search?q=text:coffee&limit=50')).json();
  const phrase = found.hits
    .map((h: Hit) => plain(h.why?.words).trim())
    .find((w: string) => /^[A-Z]{3,} [A-Z]{3,}$/.test(w));
  expect(phrase, 'a picture that says two words with COFFEE').toBeTruthy();
  const res = await request.get(`/api/search?q=${encodeURIComponent(`"${phrase}"`)}&limit=200`);
  expect(res.status()).toBe(200);
  const hits: Hit[] = (await res.json()).hits;
  expect(hits.length).toBeGreaterThan(0);
  for (const h of hits) {
    expect(plain(h.why?.words).toUpperCase()).toContain(phrase);
  }
  // The other order is another phrase.
  const reversed = phrase.split(' ').reverse().join(' ');
  const other: Hit[] = (await (await request.get(`/api/search?q=${encodeURIComponent(`"${reversed}"`)}&limit=50`)).json()).hits;
  for (const h of other) {
    expect(plain(h.why?.words).toUpperCase()).toContain(reversed);
  }
  // The page shows it with the phrase marked.
  await page.goto('/search?q=' + encodeURIComponent(`"${phrase.toLowerCase()}"`));
  await expect(page.locator('#results li.result')).toHaveCount(hits.length);
  await expect(page.locator('#results li.result .why mark').first()).toHaveText(new RegExp(phrase, 'i'));
});

test('operators restrict, text: asks only the words, and mistakes are explained', async ({ page, request }) => {
  const get = async (q: string) => (await request.get(`/api/search?q=${encodeURIComponent(q)}&limit=200`)).json();
  const words: Hit[] = (await get('text:pizza')).hits;
  expect(words.length).toBeGreaterThan(0);
  // Said in the picture, or written in its caption (both are words the keyword index holds).
  for (const h of words) expect(`${plain(h.why?.words)} ${plain(h.why?.caption)}`.toUpperCase()).toContain('PIZZA');
  expect((await get('pizza type:png')).hits.length).toBeGreaterThan(0);
  expect((await get('pizza type:gif')).hits).toEqual([]);
  // Left out: pictures whose words hold an excluded word.
  const without: Hit[] = (await get('text:pizza -help')).hits;
  for (const h of without) expect(plain(h.why?.words).toUpperCase()).not.toContain('HELP');
  // In the page: an operator that leaves nothing says so; a mistake shows the reason.
  await page.goto('/search?q=' + encodeURIComponent('pizza type:gif'));
  await expect(page.locator('#no-results')).toBeVisible();
  await page.goto('/search?q=' + encodeURIComponent('pizza after:someday'));
  await expect(page.locator('body')).toContainText('after: takes a year');
});
