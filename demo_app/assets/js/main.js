import { greeting } from "./lib/greet.js";
import { $, setText } from "../vendor/js/dom.js";

setText("#greeting", `${greeting()}! These modules were loaded from hashed URLs.`);
const status = setText("#module-status", "ES modules ran");
status?.classList.add("ready");

const stats = $("#stats");
if (stats) {
  const { showStats } = await import("./lazy/stats.js");
  await showStats(stats);
}
//# sourceMappingURL=main.js.map
