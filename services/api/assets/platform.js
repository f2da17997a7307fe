// The platform's one script, served by `serve` itself (no inline script anywhere).
// Progressive enhancement only: every page works without it.
"use strict";
