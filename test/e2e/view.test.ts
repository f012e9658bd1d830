import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replyText } from "../../fixtures/model-server.js";
import { call, createSession, prompt, type SessionInfo } from "../../fixtures/opencode-rest.js";
import { launchChromium } from "../helpers/chromium.js";
import { e2eSetup } from "../helpers/e2e.js";

/** How long a page condition may take to hold; far more than a prompt of the offline model needs. */
const WAIT = { timeout: 30_000 };

/** The little of the DOM the checks run in the page use (the project's type check has no DOM library). */
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
}
interface PageGlobals {
  document: {
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): ArrayLike<PageElement>;
  };
  location: { search: string };
}

interface Row {
  type: string;
  session: string | undefined;
  directory: string | undefined;
  summary: string;
}

/** The rows the page shows now, top (newest) first. */
function rows(page: Page): Promise<Row[]> {
  return page.evaluate(() => {
    const { document } = globalThis as unknown as PageGlobals;
    return Array.from(document.querySelectorAll("#events .ev"), (row) => ({
      type: row.dataset.type ?? "",
      session: row.dataset.session,
      directory: row.dataset.directory,
      summary: (row as unknown as { querySelector(s: string): PageElement | null }).querySelector(".summary")
        ?.textContent as string,
    }));
  });
}

/** Waits until the page shows a row of `type` for `session` (and `directory`, on the whole-server stream). */
async function waitForRow(page: Page, type: string, session: string, directory?: string): Promise<void> {
  const where = directory ? `[data-directory="${directory}"]` : "";
  await page
    .locator(`#events .ev[data-type="${type}"][data-session="${session}"]${where}`)
    .first()
    .waitFor(WAIT);
}

/** Waits until the page shows exactly `count` rows `selector` picks. */
async function waitForRows(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(
    ({ selector, count }) => {
      const { document } = globalThis as unknown as PageGlobals;
      return document.querySelectorAll(`#events .ev${selector}`).length === count;
    },
    { selector, count },
    WAIT,
  );
}

/** Waits until the per-type count of `type` reads `count`. */
async function waitForCount(page: Page, type: string, count: number): Promise<void> {
  await page.waitForFunction(
    ({ type, count }) => {
      const { document } = globalThis as unknown as PageGlobals;
      return document.querySelector(`#counts .chip[data-type="${type}"] .n`)?.textContent === String(count);
    },
    { type, count },
    WAIT,
  );
}

/** Waits until the list shows exactly the rows `selector` picks, and at least one. */
async function waitUntilEveryRow(page: Page, selector: string): Promise<void> {
  await page.waitForFunction(
    (selector) => {
      const { document } = globalThis as unknown as PageGlobals;
      const all = document.querySelectorAll("#events .ev").length;
      return all > 0 && document.querySelectorAll(`#events .ev${selector}`).length === all;
    },
    selector,
    WAIT,
  );
}

async function waitForStatus(page: Page, state: string, mentioning: string): Promise<void> {
  await page.waitForFunction(
    ({ state, mentioning }) => {
      const { document } = globalThis as unknown as PageGlobals;
      const status = document.querySelector("#status");
      return status?.dataset.state === state && (status.textContent ?? "").includes(mentioning);
    },
    { state, mentioning },
    WAIT,
  );
}

/** Waits until `#status` carries `data-health="health"` and its line mentions `mentioning`. */
async function waitForHealth(page: Page, health: string, mentioning = ""): Promise<void> {
  await page.waitForFunction(
    ({ health, mentioning }) => {
      const { document } = globalThis as unknown as PageGlobals;
      const status = document.querySelector("#status");
      return status?.dataset.health === health && (status.textContent ?? "").includes(mentioning);
    },
    { health, mentioning },
    WAIT,
  );
}

/** The text a delta row's summary carries (`text += "…"`). */
function deltaText(row: Row): string {
  const quoted = row.summary.slice(row.summary.indexOf("+= ") + 3);
  return JSON.parse(quoted) as string;
}

/**
 * The live event view at /shim/, in real headless Chromium, in front of the real broken
 * opencode 1.14.48: the page follows /event with EventSource and shows a prompt's events
 * as they happen.
 */
describe("the live event view at /shim/ (opencode 1.14.48, Chromium)", { timeout: 120_000 }, () => {
  const e2e = e2eSetup({ version: "1.14.48", shim: true });
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const requested: string[] = [];

  /** A new page whose errors and requests are recorded. */
  async function newPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", (error) => pageErrors.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`console: ${message.text()}`);
    });
    page.on("request", (request) => requested.push(request.url()));
    return page;
  }

  beforeAll(async () => {
    browser = await launchChromium();
    page = await newPage();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("serves the page at /shim/ (and /shim leads there), loading nothing from elsewhere", async () => {
    const html = await fetch(`${e2e.shim.url}/shim/`);
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toMatch(/^text\/html/);
    expect(html.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(await html.text()).toContain('<script type="module" src="view.js"></script>');
    for (const [file, type] of [
      ["view.js", /^application\/javascript/],
      ["view.css", /^text\/css/],
    ] as const) {
      const response = await fetch(`${e2e.shim.url}/shim/${file}`);
      expect(response.status, file).toBe(200);
      expect(response.headers.get("content-type"), file).toMatch(type);
    }
    expect((await fetch(`${e2e.shim.url}/shim/no-such-file`)).status).toBe(404);
    expect((await fetch(`${e2e.shim.url}/shim/health`)).headers.get("content-type")).toMatch(/json/);
    const bare = await fetch(`${e2e.shim.url}/shim?directory=%2Ftmp`, { redirect: "manual" });
    expect(bare.status).toBe(302);
    expect(new URL(bare.headers.get("location") ?? "", `${e2e.shim.url}/shim`).href).toBe(
      `${e2e.shim.url}/shim/?directory=%2Ftmp`,
    );

    await page.goto(`${e2e.shim.url}/shim`);
    expect(page.url()).toBe(`${e2e.shim.url}/shim/`);
    await waitForStatus(page, "connected", "/event");
    await page.locator('#events .ev[data-type="server.connected"]').first().waitFor(WAIT);
    expect(requested.length).toBeGreaterThan(0);
    for (const url of requested) expect(url.startsWith(`${e2e.shim.url}/`), url).toBe(true);
  });

  it("shows a prompt's events live, as they arrive, and a count per type", async () => {
    const session = await createSession(e2e.shim.url);
    let finished = false;
    // 10 words 400 ms apart: the reply takes 4 s.
    const text = "[chunks:10] [delay:400] say hello";
    const running = prompt(e2e.shim.url, session.id, text).then((reply) => {
      finished = true;
      return reply;
    });
    await waitForRow(page, "session.created", session.id);
    await waitForRow(page, "message.part.delta", session.id);
    // The page showed the reply's first words while the model was still writing the rest.
    expect(finished).toBe(false);
    expect(
      await page.locator(`#events .ev[data-type="session.idle"][data-session="${session.id}"]`).count(),
    ).toBe(0);
    await running;
    await waitForRow(page, "session.idle", session.id);
    await waitForCount(page, "session.idle", 1);

    const shown = (await rows(page)).filter((row) => row.session === session.id);
    const types = new Set(shown.map((row) => row.type));
    for (const type of ["session.created", "message.updated", "message.part.updated", "session.status"]) {
      expect(types, type).toContain(type);
    }
    // Newest first: the deltas, read bottom up, are the whole reply.
    const deltas = shown.filter((row) => row.type === "message.part.delta").reverse();
    expect(deltas.map(deltaText).join("")).toBe(replyText(text));
    expect(shown.find((row) => row.type === "session.status")?.summary).toMatch(/^(busy|idle)$/);
    const position = (type: string) => shown.findIndex((row) => row.type === type);
    expect(position("session.idle")).toBeLessThan(position("session.created"));

    // A click shows the event's full JSON. Paused first, so that events still arriving
    // cannot move the rows between Playwright's aim and its click.
    await page.click("#pause");
    const idle = page.locator(`#events .ev[data-type="session.idle"][data-session="${session.id}"]`);
    await idle.locator(".row").click();
    const json = JSON.parse((await idle.locator("pre").textContent()) ?? "") as {
      type: string;
      properties: { sessionID: string };
    };
    expect(json.type).toBe("session.idle");
    expect(json.properties.sessionID).toBe(session.id);
    expect(await idle.locator(".row").getAttribute("aria-expanded")).toBe("true");

    const status = await page.locator("#status").textContent();
    expect(status).toMatch(/last event id [0-9a-z]+-\d+\b/);
    if (process.env.VIEW_SCREENSHOT) await page.screenshot({ path: process.env.VIEW_SCREENSHOT });
    await idle.locator(".row").click();
    expect(await idle.locator("pre").count()).toBe(0);
    await page.click("#pause");
    expect(await page.textContent("#pause")).toBe("Pause");
  });

  it("filters by type and by session", async () => {
    const first = (await rows(page)).find((row) => row.type === "session.idle")?.session ?? "";
    expect(first).toMatch(/^ses_/);
    const second = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, second.id, "say hello again");
    await waitForRow(page, "session.idle", second.id);
    await waitForCount(page, "session.idle", 2);

    await page.fill("#type-filter", "session.idle");
    await waitUntilEveryRow(page, '[data-type="session.idle"]');
    expect((await rows(page)).map((row) => row.session).sort()).toEqual([first, second.id].sort());

    // A count is also a filter: click it, click it again to drop it.
    await page.click('#counts .chip[data-type="message.part.delta"]');
    expect(await page.inputValue("#type-filter")).toBe("message.part.delta");
    await waitUntilEveryRow(page, '[data-type="message.part.delta"]');
    await page.click('#counts .chip[data-type="message.part.delta"]');
    expect(await page.inputValue("#type-filter")).toBe("");

    // Part of an id hides the other sessions' rows in the page (a whole one is followed on
    // the shim: below).
    await page.fill("#session-filter", second.id.slice(0, -1));
    await waitUntilEveryRow(page, `[data-session="${second.id}"]`);
    const ofSecond = await rows(page);
    expect(ofSecond.map((row) => row.type)).toEqual(
      expect.arrayContaining(["session.created", "session.idle"]),
    );
    await page.fill("#session-filter", first.slice(4));
    await waitUntilEveryRow(page, `[data-session="${first}"]`);

    await page.fill("#session-filter", "");
    await page.waitForFunction(
      (sessions) => {
        const { document } = globalThis as unknown as PageGlobals;
        return sessions.every((id) => document.querySelector(`#events .ev[data-session="${id}"]`) !== null);
      },
      [first, second.id],
      WAIT,
    );
  });

  it("pause holds new events back until resumed, as the page says", async () => {
    await page.click("#pause");
    expect(await page.textContent("#pause")).toBe("Resume");
    expect(await page.textContent("#pause-note")).toContain("held back");
    const session = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, session.id, "say hello while paused");
    // The page has received the whole turn (it counts it)…
    await waitForCount(page, "session.idle", 3);
    expect(Number(await page.getAttribute("#pause-note", "data-held"))).toBeGreaterThan(5);
    expect(await page.textContent("#pause-note")).toMatch(/Paused: \d+ new events held back/);
    // …but shows none of it while paused.
    expect((await rows(page)).filter((row) => row.session === session.id)).toEqual([]);

    await page.click("#pause");
    await waitForRow(page, "session.idle", session.id);
    await waitForRow(page, "session.created", session.id);
    expect(await page.isHidden("#pause-note")).toBe(true);
  });

  it("pause in drop mode drops new events: counted, never shown", async () => {
    await page.selectOption("#pause-mode", "drop");
    await page.click("#pause");
    expect(await page.textContent("#pause-note")).toContain("dropped");
    const session = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, session.id, "say hello into the void");
    await waitForCount(page, "session.idle", 4);
    expect(Number(await page.getAttribute("#pause-note", "data-dropped"))).toBeGreaterThan(5);

    await page.click("#pause");
    expect(await page.textContent("#pause-note")).toMatch(/\d+ event\(s\) were dropped while paused/);
    // What came while paused never shows (the turn's trailing news, its user message's summary
    // say, may still come after its session.idle, and after the resume).
    const shown = (await rows(page)).filter((row) => row.session === session.id).map((row) => row.type);
    for (const type of ["session.created", "message.part.delta", "session.idle"]) {
      expect(shown).not.toContain(type);
    }
    await page.selectOption("#pause-mode", "hold");
  });

  it("the directory selector follows another directory's instance, and only it", async () => {
    await page.fill("#directory", e2e.opencode.otherDir);
    await page.click("#connect");
    await waitForStatus(page, "connected", `/event?directory=${e2e.opencode.otherDir}`);
    expect(new URL(page.url()).searchParams.get("directory")).toBe(e2e.opencode.otherDir);
    // The selector offers the directories opencode knows: its own, and its projects'.
    await page.focus("#directory");
    for (const directory of [e2e.opencode.projectDir, e2e.opencode.otherDir]) {
      await page.waitForSelector(`#directories option[value="${directory}"]`, {
        state: "attached",
        timeout: 10_000,
      });
    }
    // A new stream starts a new list.
    expect(await page.textContent('#counts .chip[data-type="server.connected"] .n')).toBe("1");

    // A turn in opencode's own directory, then one in the other: only the other's shows.
    const here = await createSession(e2e.shim.url);
    await prompt(e2e.shim.url, here.id, "say hello here");
    const there = await createSession(e2e.shim.url, { directory: e2e.opencode.otherDir });
    await prompt(e2e.shim.url, there.id, "say hello there", { directory: e2e.opencode.otherDir });
    await waitForRow(page, "session.idle", there.id);
    await waitForCount(page, "session.idle", 1);
    const shown = await rows(page);
    expect(shown.filter((row) => row.session === here.id)).toEqual([]);
    for (const row of shown) if (row.session) expect(row.session).toBe(there.id);

    // The page's own URL names the directory: opening it (even without the slash) follows it again.
    await page.goto(`${e2e.shim.url}/shim?directory=${encodeURIComponent(e2e.opencode.otherDir)}`);
    expect(await page.inputValue("#directory")).toBe(e2e.opencode.otherDir);
    await waitForStatus(page, "connected", `/event?directory=${e2e.opencode.otherDir}`);
  });

  it("a whole session id in the session filter follows that session and its subagents on the shim", async () => {
    const view = await newPage();
    try {
      await view.goto(`${e2e.shim.url}/shim/`);
      await waitForStatus(view, "connected", "connected to /event");
      const followed = await createSession(e2e.shim.url);
      const other = await createSession(e2e.shim.url);
      await Promise.all([
        prompt(e2e.shim.url, followed.id, "say hello one"),
        prompt(e2e.shim.url, other.id, "say hello two"),
      ]);
      await waitForRow(view, "session.idle", followed.id);
      await waitForRow(view, "session.idle", other.id);

      // Picked (here: filled in whole): the page follows /event?session=, and its URL says so.
      await view.fill("#session-filter", followed.id);
      await waitForStatus(view, "connected", `, session ${followed.id} and its subagents · `);
      expect(new URL(view.url()).searchParams.get("session")).toBe(followed.id);
      const streams = requested.map((url) => new URL(url)).filter((url) => url.pathname === "/event");
      const stream = streams.find((url) => url.searchParams.get("session") === followed.id);
      // …resuming after the last event the whole stream gave, so that nothing falls between.
      expect(stream?.searchParams.get("lastEventID")).toMatch(/^[0-9a-z]+-\d+$/);
      // The rows it had of the followed session stay; the other's went with the whole stream.
      await waitForRows(view, `[data-session="${other.id}"]`, 0);
      await waitForRows(view, `[data-type="session.idle"][data-session="${followed.id}"]`, 1);

      // A subagent session (a child made by REST here), created after the page chose to follow.
      const child = await call<SessionInfo>(e2e.shim.url, "POST", "/session", { parentID: followed.id });
      await prompt(e2e.shim.url, other.id, "say hello again two");
      await prompt(e2e.shim.url, child.id, "say hello from below");
      await prompt(e2e.shim.url, followed.id, "say hello again one");
      await waitForRows(view, `[data-type="session.idle"][data-session="${followed.id}"]`, 2);
      await waitForRow(view, "session.created", child.id);
      await waitForRow(view, "session.created", child.id);
      await waitForRow(view, "session.idle", child.id);
      const shown = await rows(view);
      for (const row of shown) {
        if (row.session !== undefined) expect([followed.id, child.id], row.type).toContain(row.session);
      }
      // The other session's events never reached the page: the shim did not send them.
      expect(await view.textContent('#counts .chip[data-type="session.idle"] .n')).toBe("3");

      // Cleared: the whole stream again, every session's events.
      await view.fill("#session-filter", "");
      await waitForStatus(view, "connected", "connected to /event (opencode's own directory) · ");
      expect(new URL(view.url()).searchParams.has("session")).toBe(false);
      await prompt(e2e.shim.url, other.id, "say hello once more");
      await waitForRows(view, `[data-type="session.idle"][data-session="${other.id}"]`, 1);
    } finally {
      await view.close();
    }
  });

  it("a page opened to follow a session opencode does not know says why its stream is refused", async () => {
    const unknown = "ses_0123456789abZZZZZZZZZZZZZZ";
    const refusal = await fetch(`${e2e.shim.url}/event?session=${unknown}`);
    expect(refusal.status).toBe(404);
    const { message } = (await refusal.json()) as { message: string };
    // Only the page's own errors count here: Chromium logs every 404 it gets as a console error.
    const view = await browser.newPage();
    view.on("pageerror", (error) => pageErrors.push(`page error: ${error.message}`));
    try {
      await view.goto(`${e2e.shim.url}/shim/?session=${unknown}`);
      expect(await view.inputValue("#session-filter")).toBe(unknown);
      await waitForStatus(
        view,
        "failed",
        `cannot open /event (opencode's own directory), session ${unknown}`,
      );
      await waitForStatus(view, "failed", `HTTP 404: ${message}; retrying in `);
    } finally {
      await view.close();
    }
  });

  it("the whole server: /global/event, with each event's directory", async () => {
    await page.selectOption("#source", "global");
    await page.click("#connect");
    await waitForStatus(page, "connected", "/global/event");
    expect(await page.isDisabled("#directory")).toBe(true);
    expect(new URL(page.url()).searchParams.get("source")).toBe("global");

    const here = await createSession(e2e.shim.url);
    const there = await createSession(e2e.shim.url, { directory: e2e.opencode.otherDir });
    await Promise.all([
      prompt(e2e.shim.url, here.id, "say hello here"),
      prompt(e2e.shim.url, there.id, "say hello there", { directory: e2e.opencode.otherDir }),
    ]);
    await waitForRow(page, "session.idle", here.id, e2e.opencode.projectDir);
    await waitForRow(page, "session.idle", there.id, e2e.opencode.otherDir);
    const directoryCell = page
      .locator(`#events .ev[data-type="session.idle"][data-session="${there.id}"] .dir`)
      .first();
    expect(await directoryCell.isVisible()).toBe(true);
    expect(await directoryCell.textContent()).toBe(e2e.opencode.otherDir);
    await waitForRow(page, "message.part.delta", here.id, e2e.opencode.projectDir);

    await page.fill("#session-filter", there.id);
    await waitUntilEveryRow(page, `[data-session="${there.id}"][data-directory="${e2e.opencode.otherDir}"]`);
    await page.fill("#session-filter", "");
  });

  it("the status line says when the shim is degraded or unavailable, and stays calm when health is unreadable", async () => {
    // Today's shim answers ok: nothing is added to the line.
    await waitForHealth(page, "ok", "connected to /global/event");
    expect(await page.textContent("#status-text")).not.toMatch(/shim|degraded|unavailable/);

    const reason = "upstream's stream lost 12 events that REST showed (message.part.updated, session.status)";
    const health = (status: string, extra: Record<string, unknown> = {}) => ({
      status,
      ...extra,
      upstream: { url: e2e.opencode.url, version: "1.14.48" },
      source: { mode: "auto", feeder: "reconciler", stream: "live" },
      clients: 1,
    });
    // The page asks again every 5 s: each answer below shows within one round.
    let answer: { status: number; contentType: string; body: string } = {
      status: 200,
      contentType: "application/json",
      body: JSON.stringify(health("degraded", { reason })),
    };
    const errorsBefore = pageErrors.length;
    await page.route("**/shim/health", (route) => route.fulfill(answer));
    try {
      await waitForHealth(page, "degraded", reason);
      expect(await page.getAttribute("#status", "data-state")).toBe("connected");
      const line = await page.textContent("#status-text");
      expect(line).toMatch(/^connected to \/global\/event · \d+ events · /);
      expect(line?.endsWith(` · shim degraded: ${reason}`), line ?? "").toBe(true);

      answer = { ...answer, body: JSON.stringify(health("ok")) };
      await waitForHealth(page, "ok");
      expect(await page.textContent("#status-text")).not.toMatch(/shim|degraded|upstream's stream/);

      const down = "upstream /global/event is down; reconnecting";
      answer = {
        status: 503,
        contentType: "application/json",
        body: JSON.stringify(health("unavailable", { reason: down })),
      };
      await waitForHealth(page, "unavailable", ` · shim unavailable: ${down}`);

      // A password-protected opencode answers 401, and not JSON: health unknown, no alarm on the line.
      answer = { status: 401, contentType: "text/plain", body: "Unauthorized" };
      await waitForHealth(page, "unknown");
      const calm = await page.textContent("#status-text");
      expect(calm).toMatch(/^connected to \/global\/event · \d+ events · /);
      expect(calm).not.toMatch(/shim|degraded|unavailable|Unauthorized|401/);
    } finally {
      await page.unroute("**/shim/health");
    }
    await waitForHealth(page, "ok");
    // Chromium logs each 401 and 503 it got as a console error: those are the ones served above.
    const served = /^console: Failed to load resource: .* status of (401|503) /;
    const unexpected = pageErrors.splice(errorsBefore).filter((error) => !served.test(error));
    pageErrors.push(...unexpected);
  });

  it("raised no error in the page", () => {
    expect(pageErrors).toEqual([]);
  });
});

/**
 * The view of a password-protected opencode: the page needs opencode's credentials, so the
 * browser asks for them once, and its streams carry them; a page opened with `?auth_token=`
 * carries that on; and a stream that is refused says so on the page.
 */
describe("the live event view of a password-protected opencode (Chromium)", { timeout: 120_000 }, () => {
  const PASSWORD = "view secret";
  const token = Buffer.from(`opencode:${PASSWORD}`).toString("base64");
  const e2e = e2eSetup({ version: "1.14.48", password: PASSWORD, shim: true });
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const headers = { authorization: `Basic ${token}` };

  it("asks for the credentials, and shows events once the browser has them", async () => {
    const context = await browser.newContext({
      httpCredentials: { username: "opencode", password: PASSWORD },
    });
    try {
      const page = await context.newPage();
      const loaded = await page.goto(`${e2e.shim.url}/shim/`);
      expect(loaded?.status()).toBe(200);
      await waitForStatus(page, "connected", "connected to /event");
      const session = await createSession(e2e.shim.url, { headers });
      await prompt(e2e.shim.url, session.id, "[chunks:3] seen", { headers });
      await waitForRow(page, "session.idle", session.id);
      await waitForHealth(page, "ok");
    } finally {
      await context.close();
    }
  });

  it("carries ?auth_token= on to its streams and its health", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const loaded = await page.goto(`${e2e.shim.url}/shim/?auth_token=${encodeURIComponent(token)}`);
      expect(loaded?.status()).toBe(200);
      await waitForStatus(page, "connected", "connected to /event");
      const session = await createSession(e2e.shim.url, { headers });
      await prompt(e2e.shim.url, session.id, "say hello", { headers });
      await waitForRow(page, "session.idle", session.id);
      await waitForHealth(page, "ok");
      expect(new URL(page.url()).searchParams.get("auth_token")).toBe(token);
    } finally {
      await context.close();
    }
  });

  it("without credentials gets opencode's 401 for the page itself", async () => {
    const response = await fetch(`${e2e.shim.url}/shim/`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Basic realm="Secure Area"');
  });

  it("says so on the page when its stream is refused, rather than connecting for ever", async () => {
    const context = await browser.newContext({
      httpCredentials: { username: "opencode", password: PASSWORD },
    });
    try {
      const page = await context.newPage();
      // The credentials stop working for the stream (a password changed under it, say).
      await page.route("**/event*", (route) =>
        route.fulfill({
          status: 401,
          headers: { "www-authenticate": 'Basic realm="Secure Area"' },
          body: "",
        }),
      );
      await page.goto(`${e2e.shim.url}/shim/`);
      await waitForStatus(page, "failed", "HTTP 401: not authorized");
    } finally {
      await context.close();
    }
  });
});
