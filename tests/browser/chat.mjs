// People in rooms of the chat example, each in a tab of a real headless Chromium: what
// one says appears in the others' tabs, a direct message only in its reader's, and each
// tab shows how many are in its room, all through one EventSource per tab.
//
//   node chat.mjs http://127.0.0.1:3000
import { launch } from "./launch.mjs";

const base = process.argv[2];
const browser = await launch();
const fail = async (message) => {
  console.error(message);
  await browser.close();
  process.exit(1);
};
try {
  const context = await browser.newContext();
  const join = async (room, name) => {
    const page = await context.newPage();
    await page.goto(`${base}/#${room}`);
    await page.fill("#name", name);
    await page.click("#join-button");
    await page.waitForFunction(
      (name) => document.getElementById("status").textContent === `connected as ${name}`,
      name,
    );
    return page;
  };
  const say = async (page, text) => {
    await page.fill("#text", text);
    await page.click("#say-button");
  };
  const whisper = async (page, to, text) => {
    await page.fill("#dm-to", to);
    await page.fill("#dm-text", text);
    await page.click("#dm-button");
  };
  const lines = (page) => page.$$eval("#log li", (items) => items.map((item) => item.textContent));
  const sees = (page, line) =>
    page.waitForFunction(
      (line) => [...document.querySelectorAll("#log li")].some((item) => item.textContent === line),
      line,
      { timeout: 5000 },
    );
  const counts = (page, n) =>
    page.waitForFunction(
      (n) => document.getElementById("count").textContent === `${n} here`,
      n,
      { timeout: 5000 },
    );
  // What arrives late is a leak too: give it time before looking.
  const settle = () => new Promise((done) => setTimeout(done, 500));

  const ann = await join("kitchen", "ann");
  await counts(ann, 1);
  const bob = await join("kitchen", "bob");
  await counts(ann, 2);
  await counts(bob, 2);

  await say(ann, "hello bob");
  await sees(bob, "annhello bob");
  await say(bob, "hi ann <img src=x onerror=alert(1)>");
  await sees(ann, "bobhi ann <img src=x onerror=alert(1)>");
  if ((await ann.$$("#log img")).length > 0) await fail("a message was rendered as HTML");

  // Another room hears nothing of the kitchen, and counts its own.
  const carol = await join("attic", "carol");
  await counts(carol, 1);
  await say(ann, "only the kitchen");
  await sees(bob, "annonly the kitchen");
  // A direct message reaches its reader only, in any room.
  await whisper(bob, "carol", "psst, carol");
  await sees(carol, "bob (to you)psst, carol");
  await settle();
  if ((await lines(carol)).length !== 1) await fail(`the attic heard the kitchen: ${await lines(carol)}`);
  if ((await lines(ann)).some((line) => line.includes("psst"))) await fail("ann read carol's message");

  const annLines = await lines(ann);
  const bobLines = await lines(bob);
  if (JSON.stringify(annLines) !== JSON.stringify(bobLines)) {
    await fail(`the tabs disagree: ${JSON.stringify(annLines)} / ${JSON.stringify(bobLines)}`);
  }
  // Bob closes his tab: the kitchen counts one.
  await bob.close();
  await counts(ann, 1);
  console.log(`ok: ${annLines.length} messages seen in both tabs, a direct message, counts 1, 2, 1`);
} catch (error) {
  await fail(String(error?.stack ?? error));
}
await browser.close();
