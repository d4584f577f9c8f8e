// build.mjs bundles the example app with esbuild into dist/: index.html and
// app.js (one ES module, minified, with a source map), and prints the
// bundle's size, raw and gzipped; and the page the tests drive. The
// SDK comes from ../../ (its build, dist/).
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))

/** bundle builds dist/ and returns the size of app.js in bytes, raw and gzipped. */
export async function bundle({ quiet = false } = {}) {
  mkdirSync(here('dist'), { recursive: true })
  await build({
    entryPoints: [here('src/app.ts')],
    outfile: here('dist/app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
  })
  // The page the storage test and the benchmark drive, apart from the app.
  await build({
    entryPoints: [here('test/test-page.ts')],
    outfile: here('dist/test-page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    logLevel: quiet ? 'error' : 'warning',
  })
  copyFileSync(here('test/test-page.html'), here('dist/test-page.html'))
  copyFileSync(here('src/index.html'), here('dist/index.html'))
  copyFileSync(here('src/app.css'), here('dist/app.css'))
  const js = readFileSync(here('dist/app.js'))
  return { raw: js.length, gzip: gzipSync(js, { level: 9 }).length }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { raw, gzip } = await bundle()
  console.log(`example app bundle: app.js ${(raw / 1024).toFixed(1)} KiB, gzipped ${(gzip / 1024).toFixed(1)} KiB`)
}
