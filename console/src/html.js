/**
 * The console's view layer in one import: Preact's `h` bound to htm (tagged-template JSX without a build
 * step of its own) and the hooks the screens use.
 *
 * @module
 */
import { h } from "preact";
import htm from "htm";

export { Fragment, render } from "preact";
export { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";

/** `html\`<div>…</div>\`` renders Preact elements. */
export const html = htm.bind(h);
