/** The HTML report's inline stylesheet and script (the report must open offline: no external assets). */

export const STYLE = `
:root { --pass:#1a7f37; --fail:#cf222e; --flaky:#bf8700; --error:#8250df; --skipped:#6e7781; --line:#d0d7de; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; }
header { background: #24292f; color: #fff; padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header .meta { opacity: .85; font-size: 13px; }
main { padding: 16px 24px; max-width: 1400px; }
.banner { padding: 8px 12px; border-radius: 6px; margin: 0 0 12px; background: #fff8c5; border: 1px solid #d4a72c; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin: 8px 0 16px; }
.count { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 92px; background: var(--bg); }
.count b { display: block; font-size: 22px; }
.v { display: inline-block; font-weight: 600; font-size: 12px; padding: 1px 8px; border-radius: 10px; color: #fff; }
.v-PASS { background: var(--pass); } .v-FAIL { background: var(--fail); } .v-FLAKY { background: var(--flaky); }
.v-ERROR { background: var(--error); } .v-SKIPPED { background: var(--skipped); }
table { border-collapse: collapse; }
.overview td, .overview th { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
section.scenario { border: 1px solid var(--line); border-radius: 8px; margin: 18px 0; padding: 12px 16px; }
section.scenario h2 { font-size: 16px; margin: 0 0 6px; display: flex; gap: 10px; align-items: center; }
.claim { margin: 4px 0; font-style: italic; }
.source, .reason { color: #57606a; font-size: 13px; margin: 2px 0; }
.truth th, .truth td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
.truth thead th { background: var(--bg); font-weight: 600; font-size: 12px; }
.truth tbody th { background: var(--bg); text-align: left; font-size: 12px; white-space: nowrap; }
.cell { display: block; cursor: pointer; border-left: 4px solid var(--skipped); padding: 2px 6px; margin: 2px 0; border-radius: 3px; background: #fff; font-size: 12px; text-decoration: none; color: inherit; }
.cell:hover { background: var(--bg); }
.cell.c-PASS { border-color: var(--pass); } .cell.c-FAIL { border-color: var(--fail); background: #ffebe9; }
.cell.c-FLAKY { border-color: var(--flaky); background: #fff8c5; } .cell.c-ERROR { border-color: var(--error); background: #fbefff; }
.cell .n { font-weight: 600; }
.cell .exp, .cell .obs { display: block; color: #57606a; }
details.probe { border-top: 1px solid var(--line); padding: 4px 0; }
details.probe summary { cursor: pointer; }
details.probe[open] { background: var(--bg); }
pre { white-space: pre-wrap; word-break: break-word; font-size: 12px; margin: 4px 0 8px; }
.attempts td, .attempts th { border-bottom: 1px solid var(--line); padding: 2px 8px; font-size: 12px; text-align: left; vertical-align: top; }
.highlight { outline: 3px solid #0969da; }
`;

/**
 * Clicking a truth-table cell (a link to #probe-…) opens that probe's evidence and scrolls to it; so does opening
 * the report with that #fragment, which makes a probe's evidence linkable from CI logs.
 */
export const SCRIPT = `
function showProbe(id) {
  var d = id && document.getElementById(id);
  if (!d || d.tagName !== 'DETAILS') return;
  d.open = true;
  document.querySelectorAll('.highlight').forEach(function (e) { e.classList.remove('highlight'); });
  d.classList.add('highlight');
  d.scrollIntoView({ block: 'start' });
}
document.addEventListener('click', function (ev) {
  var cell = ev.target.closest && ev.target.closest('[data-probe]');
  if (!cell) return;
  ev.preventDefault();
  history.replaceState(null, '', '#' + cell.getAttribute('data-probe'));
  showProbe(cell.getAttribute('data-probe'));
});
window.addEventListener('hashchange', function () { showProbe(decodeURIComponent(location.hash.slice(1))); });
showProbe(decodeURIComponent(location.hash.slice(1)));
document.documentElement.setAttribute('data-ready', 'true');
`;
