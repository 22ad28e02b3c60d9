'use strict'
const fs = require('fs')
const path = require('path')
const root = process.argv[2] || '.'
const lines = []
const walk = (rel, bundled) => {
  const dir = path.join(root, rel)
  let names
  try { names = fs.readdirSync(dir) } catch { return }
  for (const name of names) {
    if (name.startsWith('.')) continue
    if (name.startsWith('@')) {
      for (const inner of fs.readdirSync(path.join(dir, name))) visit(`${rel}/${name}/${inner}`, `${name}/${inner}`, bundled)
    } else {
      visit(`${rel}/${name}`, name, bundled)
    }
  }
}
const visit = (rel, name, bundled) => {
  if (bundled.includes(name)) return
  const pj = JSON.parse(fs.readFileSync(path.join(root, rel, 'package.json'), 'utf8'))
  lines.push(`${rel} ${pj.name}@${pj.version}`)
  let inner = pj.bundleDependencies || pj.bundledDependencies || []
  if (inner === true) inner = Object.keys(pj.dependencies || {})
  walk(`${rel}/node_modules`, Array.isArray(inner) ? inner : [])
}
walk('node_modules', [])
process.stdout.write(lines.sort().map((l) => l + '\n').join(''))
