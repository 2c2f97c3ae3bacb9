import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { addLibrary, shot, waitForCrawl, watchErrors } from './util';

// What files say of themselves: an XMP sidecar beside a picture (as darktable writes them,
// `picture.png.xmp`) gives it a keyword path and stars. The admin adds the folder on the home
// page; the keyword finds the picture, and the lightbox shows what the sidecar says under its
// name, the keyword a link to its search.

const trove = process.env.TROVE_BIN ?? '../target/debug/trove';

const sidecar = `<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmp:Rating="4">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Spice market &lt;b&gt;at dawn&lt;/b&gt;</rdf:li></rdf:Alt></dc:title>
   <dc:subject><rdf:Bag><rdf:li>Zanzibar</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Tanzania|Zanzibar</rdf:li></rdf:Bag></lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>`;

test('a keyword from an XMP sidecar finds its picture, and the lightbox shows what the sidecar says', async ({ page, request }) => {
  test.setTimeout(180_000);
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'trove-e2e-xmp-')));
  execFileSync(trove, ['synth', dir, '--count', '3', '--seed', '91'], { stdio: 'pipe' });
  const picture = fs.readdirSync(dir).filter((n: string) => n.endsWith('.png')).sort()[1];
  fs.writeFileSync(path.join(dir, `${picture}.xmp`), sidecar);

  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await addLibrary(page, dir);
  await waitForCrawl(request, dir, 3);

  const errors = watchErrors(page);
  const found = (await (await request.get(`/api/search?q=${encodeURIComponent('keyword:Tanzania')}`)).json()).hits as {
    path: string;
    described?: { catalog: string; rating?: number; keywords?: string[] }[];
  }[];
  expect(found).toHaveLength(1);
  expect(found[0].path.endsWith(picture)).toBe(true);
  expect(found[0].described?.[0]).toMatchObject({ catalog: `${picture}.xmp`, rating: 4 });

  await page.goto(`/search?q=${encodeURIComponent('keyword:Zanzibar')}`);
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('#results li.result')).toHaveCount(1);
  await page.locator('#results li.result a').first().click();
  await expect(page.locator('#lightbox')).toBeVisible();
  const box = page.locator('#lightbox .lightbox-described');
  await expect(box).toContainText(`From ${picture}.xmp`);
  await expect(box).toContainText('★★★★☆');
  // The title is text, never markup.
  await expect(box).toContainText('Spice market <b>at dawn</b>');
  await expect(box.locator('b')).toHaveCount(0);
  const keyword = box.locator('.lightbox-keyword').first();
  await expect(keyword).toHaveText('Zanzibar');
  await page.screenshot({ path: shot('lightbox-xmp-sidecar') });
  await keyword.click();
  await expect(page).toHaveURL(/\/search\?q=keyword%3AZanzibar/);
  await expect(page.locator('#results li.result')).toHaveCount(1);

  // The admin removes the folder again.
  await page.goto('/');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.locator(`#libraries li[data-path="${dir}"] .remove-library`).click();
  await expect(page.locator('#library-message')).toContainText('removed');
  fs.rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
});
