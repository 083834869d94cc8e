/**
 * Headless Chromium for the console's browser tests: Debian's `chromium` (installed by
 * `ensureChromium` when missing and running as root) driven by puppeteer-core, with the flags this
 * machine's closed network needs and a fresh profile. Every page records its console errors, page errors
 * and every request it makes, so a test can fail on any of them and inspect what the browser sent.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { ensureChromium } from "../../scripts/local/prerequisites.ts";

/** What a page did that a test checks afterwards. */
export interface PageRecord {
  /** Console messages of type error, and uncaught page errors. */
  errors: string[];
  /** Every request: URL, method, headers and body. */
  requests: { url: string; method: string; headers: Record<string, string>; body?: string }[];
}

/** A running browser with its throwaway profile. */
export interface TestBrowser {
  browser: Browser;
  /** A new page of `width`x`height` that records errors and requests into `record`. */
  newPage(record: PageRecord, width?: number, height?: number): Promise<Page>;
  close(): Promise<void>;
}

/** Options of {@link launchBrowser}. */
export interface BrowserOptions {
  /** Host names the browser resolves to these addresses instead of asking DNS (`{"evil.example": "127.0.0.1"}`). */
  resolve?: Record<string, string>;
}

/** Launches headless Chromium with a new empty profile. */
export async function launchBrowser(options: BrowserOptions = {}): Promise<TestBrowser> {
  const rules = Object.entries(options.resolve ?? {}).map(([name, address]) => `MAP ${name} ${address}`);
  const executablePath = await ensureChromium();
  const profile = await Deno.makeTempDir({ prefix: "console-chromium-" });
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      ...(rules.length > 0 ? [`--host-resolver-rules=${rules.join(",")}`] : []),
    ],
  });
  return {
    browser,
    async newPage(record, width = 1280, height = 800) {
      const page = await browser.newPage();
      await page.setViewport({ width, height });
      page.on("console", (message) => {
        if (message.type() === "error") record.errors.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => record.errors.push(`page: ${(error as Error).message ?? error}`));
      page.on("request", (request) => {
        record.requests.push({
          url: request.url(),
          method: request.method(),
          headers: request.headers(),
          body: request.postData(),
        });
      });
      return page;
    },
    async close() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
