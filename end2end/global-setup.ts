// `cargo leptos end-to-end` starts the server and the tests at the same moment: wait until the
// server answers its health route, then until its first crawl (of the generated demo library,
// since the tests give it no library) has finished.
export default async function globalSetup() {
  const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
  const deadline = Date.now() + 180_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/api/status`);
      if (res.ok) {
        const status = await res.json();
        last = JSON.stringify({ state: status.state, crawl: status.crawl, counts: status.counts });
        if (status.state === 'error') throw new Error(`the library failed to open: ${status.error}`);
        if (status.state === 'ready' && !status.crawl.running && status.counts.embedded > 0) return;
      } else {
        last = `HTTP ${res.status}`;
      }
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`server at ${base} was not ready within 180s: ${last}`);
}
