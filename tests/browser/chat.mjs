// Two people in one room of the chat example, each in a tab of a real headless
// Chromium: what one says appears in the other's tab through EventSource.
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
  const open = async () => {
    const page = await context.newPage();
    await page.goto(`${base}/#kitchen`);
    await page.waitForFunction(() => document.getElementById("status").textContent === "connected");
    return page;
  };
  const ann = await open();
  const bob = await open();
  const say = async (page, name, text) => {
    await page.fill("#name", name);
    await page.fill("#text", text);
    await page.click("button");
  };
  const lines = (page) => page.$$eval("#log li", (items) => items.map((item) => item.textContent));
  const sees = (page, line) =>
    page.waitForFunction(
      (line) => [...document.querySelectorAll("#log li")].some((item) => item.textContent === line),
      line,
      { timeout: 5000 },
    );

  await say(ann, "ann", "hello bob");
  await sees(bob, "annhello bob");
  await say(bob, "bob", "hi ann <img src=x onerror=alert(1)>");
  await sees(ann, "bobhi ann <img src=x onerror=alert(1)>");
  if ((await ann.$$("#log img")).length > 0) await fail("a message was rendered as HTML");

  const annLines = await lines(ann);
  const bobLines = await lines(bob);
  if (JSON.stringify(annLines) !== JSON.stringify(bobLines)) {
    await fail(`the tabs disagree: ${JSON.stringify(annLines)} / ${JSON.stringify(bobLines)}`);
  }
  // Another room hears nothing of it.
  const other = await context.newPage();
  await other.goto(`${base}/#attic`);
  await other.waitForFunction(() => document.getElementById("status").textContent === "connected");
  await say(ann, "ann", "only the kitchen");
  await sees(bob, "annonly the kitchen");
  if ((await lines(other)).length !== 0) await fail("the attic heard the kitchen");
  console.log(`ok: ${annLines.length + 1} messages seen in both tabs`);
} catch (error) {
  await fail(String(error?.stack ?? error));
}
await browser.close();
