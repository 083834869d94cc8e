/** The functions' configuration for unit tests: the required variables, pointing nowhere. */
import { type Config, loadConfig } from "../../supabase/functions/_shared/config.ts";

/** A valid configuration with placeholder values (no database or Fly behind them). */
export function unitTestConfig(): Config {
  return loadConfig({
    FLY_API_TOKEN: "unit-test-token",
    FLY_ORG_SLUG: "personal",
    FLY_DEFAULT_REGION: "sin",
    FLY_APP_IMAGE: "registry.example.com/app:1",
    PROVISIONER_SECRET: "unit-test-provisioner-secret",
    KICK_SECRET: "unit-test-kick-secret-value",
    FLY_APP_NAME_KEY: "unit-test-app-name-key",
    SUPABASE_URL: "http://127.0.0.1:9",
    SUPABASE_DB_URL: "postgres://u:p@127.0.0.1:9/db",
  });
}
