// The browser loads uPlot's ESM build from the CMA (/console/vendor/uPlot.esm.js, console-plugin.ts);
// the types are the package's own.
import uPlot from "uplot";
export default uPlot;
