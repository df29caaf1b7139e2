// Entry point: apply the saved theme before the first paint, adopt `?api=` (the API origin for a
// dashboard deployed apart from its Worker), then render the app.

import { render } from "preact";
import { adoptApiParam } from "./api/settings";
import { App } from "./app/App";
import { applyTheme, initialTheme } from "./app/theme";
import "./styles.css";

applyTheme(initialTheme());
adoptApiParam();
render(<App />, document.getElementById("app")!);
