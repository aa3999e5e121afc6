/**
 * Every permission decision `burrow serve` makes, in one module a reviewer can audit alone.
 * Each exported rule maps one-to-one onto a row of docs/security.md; handlers ask these
 * functions and never decide on their own.
 */

// --- Login and key options (docs/security.md: "who may log in, and what a key allows") -------

// --- Incus reach and forwarding (docs/security.md: "what a login reaches in Incus") ----------
