package page

// css is the page's only stylesheet, inlined and allowed by its CSP hash.
// Mobile first: one column, everything wraps (long words, URLs, code), no
// fixed widths. No comments here: html/template would strip them from the
// page and the hash would no longer match.
const css = `:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--card:#f6f8fa;--line:#d1d9e0;--accent:#0b5cad;--bar:#0b5cad;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#151b23;--line:#3d444d;--accent:#4493f8;--bar:#4493f8;--ok:#3fb950;--warn:#d29922;--bad:#f85149}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;overflow-wrap:anywhere;word-break:break-word}
.wrap{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 .75rem}
h2{font-size:1.2rem;line-height:1.3;margin:2rem 0 .75rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1.05rem;line-height:1.3;margin:1.25rem 0 .5rem}
h4{font-size:1rem;line-height:1.35;margin:0 0 .25rem}
h5{font-size:.9rem;margin:.75rem 0 .25rem;color:var(--muted)}
.doc h1,.doc h2,.doc h3,.doc h4,.doc h5,.doc h6{font-size:1rem;margin:.75rem 0 .25rem;padding:0;border:0;color:var(--fg)}
.doc p{margin:.5rem 0}
a{color:var(--accent)}
h4 a{color:inherit;text-decoration:none}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.5rem;margin:.5rem 0}
code{overflow-wrap:anywhere}
blockquote{margin:.5rem 0;padding-left:.75rem;border-left:3px solid var(--line);color:var(--muted)}
ul,ol{padding-left:1.25rem}
hr{border:0;border-top:1px solid var(--line)}
.plain{list-style:none;padding:0;margin:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.75rem;margin:.75rem 0}
.card h3{margin-top:0}
.meta{color:var(--muted);font-size:.875rem;margin:.25rem 0}
.health{display:inline-block;margin:0;padding:.2rem .7rem;border:2px solid currentColor;border-radius:999px;font-weight:600}
.on_track{color:var(--ok)}
.at_risk{color:var(--warn)}
.off_track{color:var(--bad)}
.none{color:var(--muted)}
.update .health{font-size:.875rem;padding:0 .5rem;border-width:1px}
.bar{display:flex;align-items:center;gap:.5rem;margin:.25rem 0}
.bar span{font-size:.875rem;white-space:nowrap}
progress{-webkit-appearance:none;appearance:none;flex:1;min-width:0;width:100%;height:.6rem;border:0;border-radius:.3rem;background:var(--line);color:var(--bar)}
progress::-webkit-progress-bar{background:var(--line);border-radius:.3rem}
progress::-webkit-progress-value{background:var(--bar);border-radius:.3rem}
progress::-moz-progress-bar{background:var(--bar);border-radius:.3rem}
.tag{display:inline-block;font-size:.8rem;font-weight:600;padding:0 .4rem;border:1px solid currentColor;border-radius:4px;color:var(--ok)}
.fields{display:grid;grid-template-columns:auto 1fr;gap:0 .75rem;margin:.25rem 0;font-size:.875rem}
.fields dt{color:var(--muted)}
.fields dd{margin:0}
.omitted{color:var(--muted);font-style:italic}
.comments{border-top:1px solid var(--line);margin-top:.75rem}
.comment{margin:.5rem 0}
footer{margin:2.5rem 0 1rem;color:var(--muted);font-size:.875rem}
`
