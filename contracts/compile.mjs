#!/usr/bin/env node
// Compiles contracts/*.sol with the pinned solc-js and writes one artifact per
// contract to src/fbh/chain/artifacts/<Contract>.json (ABI, bytecode, solc
// version, source SHA-256), so running fbh never needs node.
//
//   node contracts/compile.mjs            write the artifacts
//   node contracts/compile.mjs --out DIR  write them to DIR instead
//   node contracts/compile.mjs --check    exit 1 if the committed ones differ
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import solc from 'solc'

const here = path.dirname(fileURLToPath(import.meta.url))
const defaultOut = path.join(here, '..', 'src', 'fbh', 'chain', 'artifacts')

// cancun: the newest fork both py-evm (eth-tester) and anvil execute.
const SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
}

function parseArgs(argv) {
  const args = { out: defaultOut, check: false }
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--check') args.check = true
    else if (argv[i] === '--out') args.out = path.resolve(argv[++i])
    else throw new Error(`unknown argument ${argv[i]}`)
  }
  return args
}

function compile() {
  const files = fs.readdirSync(here).filter((f) => f.endsWith('.sol')).sort()
  const sources = {}
  for (const f of files) sources[f] = { content: fs.readFileSync(path.join(here, f), 'utf8') }
  // Source units are bare file names so the metadata hash in the bytecode
  // does not depend on where the checkout lives.
  const output = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings: SETTINGS })))
  const errors = (output.errors || []).filter((e) => e.severity === 'error')
  for (const e of output.errors || []) console.error(e.formattedMessage)
  if (errors.length) throw new Error(`solc reported ${errors.length} error(s)`)
  const artifacts = {}
  for (const f of files) {
    const sha = createHash('sha256').update(sources[f].content, 'utf8').digest('hex')
    for (const [name, c] of Object.entries(output.contracts[f])) {
      artifacts[name] = {
        contractName: name,
        sourcePath: `contracts/${f}`,
        sourceSha256: sha,
        compiler: { name: 'solc-js', version: solc.version() },
        settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer },
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      }
    }
  }
  return artifacts
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  const artifacts = compile()
  let stale = 0
  for (const [name, a] of Object.entries(artifacts)) {
    const file = path.join(args.out, `${name}.json`)
    const text = JSON.stringify(a, null, 2) + '\n'
    if (args.check) {
      const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
      if (old !== text) {
        console.error(`stale artifact: ${file}`)
        ++stale
      }
    } else {
      fs.mkdirSync(args.out, { recursive: true })
      fs.writeFileSync(file, text)
      console.log(`wrote ${file} (solc ${solc.version()})`)
    }
  }
  if (stale) process.exit(1)
}

main()
