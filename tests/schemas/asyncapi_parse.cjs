// Validates an AsyncAPI document with the official parser (@asyncapi/parser, pinned in
// package.json). Usage: node asyncapi_parse.cjs <document.json>
// Prints {"errors": [...], "warnings": [...]} as JSON; exits 1 when there is an error.
"use strict";
const fs = require("node:fs");
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

async function main() {
  const text = fs.readFileSync(process.argv[2], "utf8");
  const { document, diagnostics } = await new Parser().parse(text);
  const shown = (d) => ({ code: d.code, message: d.message, path: d.path.join("/") });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map(shown);
  const warnings = diagnostics.filter((d) => d.severity !== DiagnosticSeverity.Error).map(shown);
  const channels = document ? document.channels().all().map((c) => c.id()) : [];
  process.stdout.write(JSON.stringify({ errors, warnings, channels }) + "\n");
  process.exitCode = document && errors.length === 0 ? 0 : 1;
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 2;
});
