/**
 * Finds (and, as root, installs through apt) what the local stack needs from the OS:
 * PostgreSQL 15 server binaries, pg_cron, pgTAP, plpgsql_check (for `supabase db lint`) and pg_prove; Chromium for the console's browser tests.
 */
import { commandExists, isRoot, run, runOrThrow } from "./process.ts";

const PG_MAJOR = 15;
const PG_BIN_DIR = `/usr/lib/postgresql/${PG_MAJOR}/bin`;
const PG_EXTENSION_DIR = `/usr/share/postgresql/${PG_MAJOR}/extension`;

/** One OS-level requirement and the Debian package that provides it. */
interface Requirement {
  what: string;
  aptPackage: string;
  present: () => Promise<boolean>;
}

/** Paths of the PostgreSQL tools the stack runs. */
export interface PostgresTools {
  binDir: string;
  initdb: string;
  pgCtl: string;
  pgProve: string;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const REQUIREMENTS: Requirement[] = [
  {
    what: `PostgreSQL ${PG_MAJOR} server`,
    aptPackage: `postgresql-${PG_MAJOR}`,
    present: () => fileExists(`${PG_BIN_DIR}/postgres`),
  },
  {
    what: "pg_cron",
    aptPackage: `postgresql-${PG_MAJOR}-cron`,
    present: () => fileExists(`${PG_EXTENSION_DIR}/pg_cron.control`),
  },
  {
    what: "pgTAP",
    aptPackage: `postgresql-${PG_MAJOR}-pgtap`,
    present: () => fileExists(`${PG_EXTENSION_DIR}/pgtap.control`),
  },
  {
    what: "plpgsql_check",
    aptPackage: `postgresql-${PG_MAJOR}-plpgsql-check`,
    present: () => fileExists(`${PG_EXTENSION_DIR}/plpgsql_check.control`),
  },
  {
    what: "pg_prove",
    aptPackage: "libtap-parser-sourcehandler-pgtap-perl",
    present: () => commandExists("pg_prove"),
  },
];

/**
 * Makes sure every requirement is present. Missing ones are installed with apt when running as root;
 * otherwise this throws an error naming exactly the packages to install.
 */
export async function ensurePostgresTools(log: (line: string) => void = console.log): Promise<PostgresTools> {
  const missing: Requirement[] = [];
  for (const requirement of REQUIREMENTS) {
    if (!(await requirement.present())) missing.push(requirement);
  }
  if (missing.length > 0) {
    const packages = missing.map((r) => r.aptPackage);
    if (!isRoot() || !(await commandExists("apt-get"))) {
      throw new Error(
        `Missing ${missing.map((r) => r.what).join(", ")}. Install them with:\n` +
          `  sudo apt-get install -y ${packages.join(" ")}`,
      );
    }
    log(`Installing ${packages.join(" ")} with apt-get (first run only)...`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await runOrThrow("apt-get", ["update", "-qq"], { env });
    await runOrThrow("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { env });
    for (const requirement of missing) {
      if (!(await requirement.present())) {
        throw new Error(
          `apt-get installed ${requirement.aptPackage} but ${requirement.what} is still missing`,
        );
      }
    }
  }
  const pgProve = (await run("sh", ["-c", "command -v pg_prove"])).stdout.trim();
  return {
    binDir: PG_BIN_DIR,
    initdb: `${PG_BIN_DIR}/initdb`,
    pgCtl: `${PG_BIN_DIR}/pg_ctl`,
    pgProve,
  };
}

/** Where Debian's `chromium` package puts the browser. */
const CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/**
 * The path of a Chromium for the console's browser tests: Debian's `chromium`, installed with apt when
 * missing and running as root; otherwise an error naming the package.
 */
export async function ensureChromium(log: (line: string) => void = console.log): Promise<string> {
  const found = async () => {
    for (const path of CHROMIUM_PATHS) if (await fileExists(path)) return path;
    return undefined;
  };
  const present = await found();
  if (present) return present;
  if (!isRoot() || !(await commandExists("apt-get"))) {
    throw new Error(
      "Missing Chromium (for the console's browser tests). Install it with:\n" +
        "  sudo apt-get install -y chromium",
    );
  }
  log("Installing chromium with apt-get (first run only)...");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await runOrThrow("apt-get", ["update", "-qq"], { env });
  await runOrThrow("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], { env });
  const installed = await found();
  if (!installed) throw new Error("apt-get installed chromium but /usr/bin/chromium is still missing");
  return installed;
}
