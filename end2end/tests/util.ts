import type { Page } from '@playwright/test';

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
