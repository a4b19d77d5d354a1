// A finite stream in a real headless Chromium: the count example counts 1, 2, 3 and
// says it is finished; the browser's EventSource must then stop (readyState CLOSED),
// not reconnect and count again.
//
//   node finished.mjs http://127.0.0.1:3000
import { launch } from "./launch.mjs";

const base = process.argv[2];
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(`${base}/`); // the example's page, for its origin
  const seen = await page.evaluate(() => new Promise((done) => {
    const source = new EventSource("/count/1?to=3&every_ms=50");
    const data = [];
    source.onmessage = (event) => data.push(event.data);
    // The example's retry is 1 s: a browser that had not stopped would have come back
    // twice within 3 s and counted again.
    setTimeout(() => done({ data, readyState: source.readyState }), 3000);
  }));
  if (JSON.stringify(seen.data) !== JSON.stringify(["1", "2", "3"]) || seen.readyState !== 2) {
    console.error(`expected 1, 2, 3 and a closed EventSource, got ${JSON.stringify(seen)}`);
    process.exitCode = 1;
  } else {
    console.log(`ok: ${JSON.stringify(seen)}`);
  }
} finally {
  await browser.close();
}
