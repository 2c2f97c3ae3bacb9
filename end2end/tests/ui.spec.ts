import { test, expect, type Page } from '@playwright/test';
import { addLibrary, shot, watchErrors } from './util';

// The server runs the built-in demo model over the generated demo library of 300 images.

async function hydrated(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

/** Ids in the grid, in order. */
async function gridIds(page: Page): Promise<string[]> {
  return page.locator('#results li.result').evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? ''));
}

/** Scrolls to the bottom until the grid says it has reached the end. */
async function scrollToEnd(page: Page) {
  const end = page.locator('#end-of-results');
  for (let i = 0; i < 40 && !(await end.isVisible()); i++) {
    await page.mouse.wheel(0, 20_000);
    await page.waitForTimeout(300);
  }
  await expect(end).toBeVisible();
}

test('the home page browses the whole library by infinite scroll, without duplicates', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  const status = await (await page.request.get('/api/status')).json();
  const total: number = status.counts.embedded;
  expect(total).toBeGreaterThan(60);
  // The first page is server-rendered; the rest arrives as the sentinel nears the viewport.
  expect((await gridIds(page)).length).toBe(60);
  await scrollToEnd(page);
  const ids = await gridIds(page);
  expect(ids.length).toBe(total);
  expect(new Set(ids).size).toBe(ids.length);
  await expect(page.locator('#end-of-results')).toContainText(`${total} images`);
  await page.screenshot({ path: shot('home-browse'), fullPage: false });
  expect(errors).toEqual([]);
});

test('a refined listing scrolls to a clear end, in its order, with no duplicate ids', async ({ page }) => {
  const errors = watchErrors(page);
  // No words: every PNG, oldest first (the demo images are undated, so in the order indexed).
  await page.goto('/search?format=png&sort=oldest');
  await hydrated(page);
  await scrollToEnd(page);
  const ids = (await gridIds(page)).map(Number);
  const status = await (await page.request.get('/api/status')).json();
  expect(ids.length).toBe(status.counts.embedded);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  await expect(page.locator('#end-of-results')).toContainText(`${ids.length} images`);
  expect(errors).toEqual([]);
});

test('keyboard: / focuses search, arrows move through the grid, Enter opens, Escape closes', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto('/search?q=a+red+circle');
  await hydrated(page);
  await page.keyboard.press('/');
  await expect(page.locator('#q')).toBeFocused();
  await page.locator('#q').evaluate((el: HTMLInputElement) => el.blur());

  const focusedId = () => page.evaluate(() => document.activeElement?.closest('li.result')?.getAttribute('data-id') ?? null);
  const ids = await gridIds(page);
  expect(ids.length).toBeGreaterThan(3);
  await page.keyboard.press('ArrowRight');
  expect(await focusedId()).toBe(ids[0]);
  await page.keyboard.press('ArrowRight');
  expect(await focusedId()).toBe(ids[1]);
  await page.keyboard.press('ArrowLeft');
  expect(await focusedId()).toBe(ids[0]);
  // Down lands in the next row (lower on the page), if there is one.
  const top = (id: string | null) => page.locator(`#results li[data-id="${id}"]`).evaluate((el) => el.getBoundingClientRect().top);
  const before = await top(ids[0]);
  await page.keyboard.press('ArrowDown');
  const below = await focusedId();
  if (below !== ids[0]) expect(await top(below)).toBeGreaterThan(before);
  await page.keyboard.press('ArrowUp');
  expect(await focusedId()).toBe(ids[0]);

  await page.keyboard.press('Enter');
  await expect(page.locator('#lightbox')).toHaveAttribute('data-id', ids[0]);
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#lightbox')).toHaveAttribute('data-id', ids[1]);
  await page.keyboard.press('Escape');
  await expect(page.locator('#lightbox')).toHaveCount(0);
  expect(await focusedId()).toBe(ids[1]);
  expect(errors).toEqual([]);
});

/** A file made in the page from an image's thumbnail, dispatched as a drop or a paste. */
async function sendImage(page: Page, id: string, how: 'drop' | 'paste') {
  await page.evaluate(
    async ({ id, how }) => {
      const blob = await (await fetch(`/thumb/${id}`)).blob();
      const file = new File([blob], 'picture.jpg', { type: 'image/jpeg' });
      const data = new DataTransfer();
      data.items.add(file);
      if (how === 'drop') {
        document.body.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
        document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
      } else {
        document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      }
    },
    { id, how },
  );
}

for (const how of ['drop', 'paste'] as const) {
  test(`an image ${how === 'drop' ? 'dropped on' : 'pasted into'} the page finds itself first`, async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto('/');
    await hydrated(page);
    const id = (await gridIds(page))[7];
    await sendImage(page, id, how);
    await expect(page).toHaveURL(/\/search\?upload=[0-9a-f]{24}$/);
    await expect(page.locator('#upload-source')).toBeVisible();
    await expect(page.locator('#results li.result').first()).toHaveAttribute('data-id', id);
    if (how === 'drop') await page.screenshot({ path: shot('search-by-image'), fullPage: true });
    expect(errors).toEqual([]);
  });
}

test('the "By image" file picker searches with the chosen file', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  const id = (await gridIds(page))[3];
  const bytes = await (await page.request.get(`/image/${id}`)).body();
  await page.locator('#image-file').setInputFiles({ name: 'mine.png', mimeType: 'image/png', buffer: bytes });
  await expect(page).toHaveURL(/\/search\?upload=[0-9a-f]{24}$/);
  await expect(page.locator('#results li.result').first()).toHaveAttribute('data-id', id);
  expect(errors).toEqual([]);
});

test('something that is not an image is refused with a reason', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['hello'], 'note.png', { type: 'image/png' }));
    document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await expect(page.locator('#upload-error')).toContainText('cannot be used');
  await expect(page).toHaveURL(/\/$/);
});

test('refinements narrow the results and stay in the URL', async ({ page }) => {
  await page.goto('/search?q=a+red+circle&format=jpeg');
  await expect(page.locator('#no-results')).toBeVisible();
  await expect(page.locator('#refine')).toHaveAttribute('open', '');
  await page.locator('#format').selectOption('png');
  await page.locator('#q').press('Enter');
  await expect(page).toHaveURL(/format=png/);
  await expect(page.locator('#results li.result').first()).toBeVisible();
  await expect(page.locator('#format')).toHaveValue('png');
});

test('crawl progress is live, and the admin can start a crawl', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await hydrated(page);
  const panel = page.locator('#library-status');
  // The event stream updates the panel without a reload.
  await expect(panel).toHaveAttribute('data-updates', /^[1-9]/);
  await expect(page.locator('#crawl-controls')).toBeVisible();
  await page.locator('#crawl-start').click();
  await expect(page.locator('#crawl-progress')).toContainText(/Indexing|Last crawl: [\d,]+ files/);
  // The first crawl embedded everything; this one finds it all unchanged.
  await expect(page.locator('#crawl-progress')).toContainText(/Last crawl: [\d,]+ files .*\b[1-9]\d* unchanged/, { timeout: 60_000 });
  await page.screenshot({ path: shot('home-status'), fullPage: false });
  expect(errors).toEqual([]);
});

test('guests see no admin controls', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  await expect(page.locator('#crawl-controls')).toBeVisible();
  await page.locator('#view-as-guest').click();
  await expect(page.locator('#guest-note')).toBeVisible();
  await expect(page.locator('#crawl-controls')).toHaveCount(0);
  // A guest's request to crawl is refused by the server, not just hidden.
  const res = await page.request.post('/api/crawl/start');
  expect(res.status()).toBe(403);
  await expect(page.locator('#model-panel')).toHaveCount(0);
  const select = await page.request.post('/api/models/select', { data: { model: 'trove/demo-clip' } });
  expect(select.status()).toBe(403);
  await page.screenshot({ path: shot('home-guest'), fullPage: false });
  await page.getByText('Back to the admin view').click();
  await expect(page.locator('#crawl-controls')).toBeVisible();
});

test('a phone-sized screen gets the same search, in one column of controls', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  const page = await context.newPage();
  await page.goto('/search?q=a+meme+that+says+hello');
  await expect(page.locator('#results li.result').first()).toBeVisible();
  // Nothing is wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: shot('phone-dark'), fullPage: false });
  await context.close();
});

test('the admin adds a library folder, sees it crawled, and removes it', async ({ page }) => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  await page.goto('/');
  await hydrated(page);
  // A folder the server can read, holding two pictures.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trove-e2e-'));
  const ids = await gridIds(page);
  for (const [i, id] of ids.slice(0, 2).entries()) {
    const bytes = await (await page.request.get(`/image/${id}`)).body();
    fs.writeFileSync(path.join(dir, `picture-${i}.png`), bytes);
  }
  const input = page.locator('#library-path');
  // A click before the form has hydrated posts it natively and reloads the page: try again.
  await expect(async () => {
    await input.fill('/no/such/folder');
    await page.locator('#add-library button').click();
    await expect(page.locator('#library-message')).toContainText('cannot be opened', { timeout: 2000 });
  }).toPass({ timeout: 30_000 });
  // From here on, nothing may fail.
  const errors = watchErrors(page);
  await input.fill(dir);
  await page.locator('#add-library button').click();
  await expect(page.locator('#library-message')).toContainText('added');
  const row = page.locator(`#libraries li[data-path="${dir}"]`);
  await expect(row).toBeVisible();
  // The crawl it started finds both files.
  await expect(async () => {
    const list = await (await page.request.get('/api/libraries')).json();
    expect(list.libraries.find((r: { path: string }) => r.path === dir)?.files).toBe(2);
    const status = await (await page.request.get('/api/status')).json();
    expect(status.crawl.running).toBe(false);
  }).toPass({ timeout: 60_000 });
  await page.screenshot({ path: shot('home-libraries'), fullPage: true });
  await row.locator('.remove-library').click();
  await expect(page.locator('#library-message')).toContainText('removed');
  await expect(row).toHaveCount(0);
  fs.rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
});

test('a long crawl shows its progress while it runs: files done of the total, embedded, rate, then words read', async ({ page }) => {
  // After embedding, the text reader reads the words in all 1,500 pictures (about two minutes
  // on two cores).
  test.setTimeout(360_000);
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  await page.goto('/');
  await hydrated(page);
  // 1,500 distinct files: the demo images, each with different bytes after its PNG end, so
  // every one is decoded and embedded (about ten seconds here).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trove-e2e-long-'));
  const ids = await gridIds(page);
  expect(ids.length).toBeGreaterThan(20);
  const originals = await Promise.all(ids.map(async (id) => (await page.request.get(`/image/${id}`)).body()));
  for (let i = 0; i < 1500; i++) {
    const tail = Buffer.from(`trove-e2e-${i}`);
    fs.writeFileSync(path.join(dir, `long-${i}.png`), Buffer.concat([originals[i % originals.length], tail]));
  }
  const errors = watchErrors(page);
  await addLibrary(page, dir);
  // Mid-way: the event stream shows the running figures (the total carries a "+" until the
  // walk has queued every file; then a bar and the time left appear too).
  const progress = page.locator('#crawl-progress');
  const running = /Indexing: ([\d,]+) of ([\d,]+)\+? (\(still looking\) )?files done, [\d,]+ embedded, 0 skipped, [\d.]+ images\/s/;
  let seen = '';
  await expect
    .poll(async () => {
      const text = (await progress.textContent()) ?? '';
      // The first event can come before the walk has found anything ("0 of 0+"): wait for
      // one with files found.
      const m = text.match(running);
      if (m && Number(m[2].replaceAll(',', '')) > 0) seen = text;
      return seen;
    })
    .toMatch(running);
  const [, done, total] = seen.match(running)!;
  expect(Number(done.replaceAll(',', ''))).toBeLessThan(1800);
  expect(Number(total.replaceAll(',', ''))).toBeGreaterThan(0);
  await page.locator('#library-status').scrollIntoViewIfNeeded();
  await page.screenshot({ path: shot('home-crawling'), fullPage: false });
  // Then the words: search already works while they are read.
  const reading = /Reading text: ([\d,]+) \/ 1,500 images, [\d,]+ with words, [\d.]+ images\/s/;
  await expect(progress).toContainText(reading, { timeout: 120_000 });
  // And at the end, the summary.
  await expect(progress).toContainText(/Last crawl: 1,800 files in \d+:\d\d \(1,500 embedded, 0 moved or copied, 300 unchanged/, { timeout: 300_000 });
  await expect(page.locator('#crawl-bar')).toHaveCount(0);
  // The finished crawl's time stands still.
  const summary = await progress.textContent();
  await page.waitForTimeout(2500);
  await expect(progress).toHaveText(summary!);
  expect(errors).toEqual([]);
  const row = page.locator(`#libraries li[data-path="${dir}"]`);
  await row.locator('.remove-library').click();
  await expect(page.locator('#library-message')).toContainText('1,500 images forgotten');
  fs.rmSync(dir, { recursive: true, force: true });
  // The grid may still be fetching thumbnails of the images just forgotten: those answer 404
  // (they are gone); nothing else may fail.
  const gone = /^(HTTP 404 http:\/\/[^/]+\/thumb\/\d+|console: Failed to load resource: the server responded with a status of 404 \(Not Found\))$/;
  expect(errors.filter((e) => !gone.test(e))).toEqual([]);
});

test('the admin switches the model, the library is embedded again, and switches back', async ({ page }) => {
  const dataDir = process.env.TROVE_DATA_DIR;
  test.skip(!dataDir, 'installs a model into the server\'s data directory (TROVE_DATA_DIR)');
  const fs = await import('node:fs');
  const path = await import('node:path');
  // A second model, installed as `trove model pull` would: the tiny random CLIP test fixture.
  const fixture = path.join(__dirname, '..', '..', 'models', 'tests', 'fixtures', 'tiny-clip');
  const target = path.join(dataDir!, 'models', 'test--tiny-clip');
  fs.mkdirSync(target, { recursive: true });
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json']) {
    fs.copyFileSync(path.join(fixture, file), path.join(target, file));
  }
  await page.goto('/');
  await hydrated(page);
  const errors = watchErrors(page);
  await expect(page.locator('#model-active')).toHaveText('trove/demo-clip');
  await expect(page.locator('#model-choice option[value="test/tiny-clip"]')).toContainText('clip');
  const settled = async (model: string) => {
    await expect(async () => {
      const status = await (await page.request.get('/api/status')).json();
      expect(status.model).toBe(model);
      expect(status.crawl.running).toBe(false);
      expect(status.counts.embedded).toBe(status.counts.images);
    }).toPass({ timeout: 120_000 });
  };
  await page.locator('#model-choice').selectOption('test/tiny-clip');
  await page.locator('#select-model button').click();
  await expect(page.locator('#model-message')).toContainText('now using test/tiny-clip', { timeout: 60_000 });
  await expect(page.locator('#model-active')).toHaveText('test/tiny-clip');
  await expect(page.locator('#server-info')).toContainText('test/tiny-clip');
  await settled('test/tiny-clip');
  await page.screenshot({ path: shot('home-model'), fullPage: true });
  // Back to the demo model, whose embeddings were kept: nothing to embed again.
  await page.locator('#model-choice').selectOption('trove/demo-clip');
  await page.locator('#select-model button').click();
  await expect(page.locator('#model-message')).toContainText('now using trove/demo-clip', { timeout: 60_000 });
  await settled('trove/demo-clip');
  const status = await (await page.request.get('/api/status')).json();
  expect(status.crawl.embedded).toBe(0);
  expect(status.demo_model).toBe(true);
  fs.rmSync(target, { recursive: true, force: true });
  fs.rmSync(path.join(dataDir!, 'model-choice'), { force: true });
  expect(errors).toEqual([]);
});
