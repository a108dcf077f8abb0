// zmqpub publishes ZMQ notifications in Bitcoin Core's layout over a real
// libzmq PUB socket, as bitcoind -zmqpubhashblock=ENDPOINT does: three
// frames, the topic, the body and the 4-byte little-endian sequence number.
//
// Usage: node zmqpub.js ENDPOINT (e.g. tcp://127.0.0.1:28332)
//
// Prints "bound ENDPOINT libzmq VERSION" once bound, then reads commands on
// standard input, one a line, and answers each with "ok N" (N counts the
// commands) or "error MESSAGE":
//
//   pub TOPIC BODYHEX SEQ   send [TOPIC, BODY, SEQ as uint32 LE]; a block or
//                           transaction hash goes in display order, as Core
//                           sends it
//   zeros TOPIC SIZE SEQ    as pub, with a body of SIZE zero bytes
//                           (oversized frames)
//   frames HEX...           send these frames as one message ("-" is an
//                           empty frame): malformed notifications
//
// It exits when standard input closes.
"use strict"

const zmq = require("zeromq")
const readline = require("readline")

async function main() {
  const endpoint = process.argv[2]
  if (!endpoint) {
    throw new Error("usage: node zmqpub.js ENDPOINT")
  }
  const sock = new zmq.Publisher({linger: 0})
  await sock.bind(endpoint)
  process.stdout.write(`bound ${endpoint} libzmq ${zmq.version}\n`)

  let n = 0
  const rl = readline.createInterface({input: process.stdin, terminal: false})
  for await (const line of rl) {
    const f = line.trim().split(/\s+/)
    if (f.length === 0 || f[0] === "") {
      continue
    }
    try {
      if ((f[0] === "pub" || f[0] === "zeros") && f.length === 4) {
        const body = f[0] === "pub" ? hex(f[2]) : Buffer.alloc(Number(f[2]))
        const seq = Buffer.alloc(4)
        seq.writeUInt32LE(Number(f[3]) >>> 0)
        await sock.send([Buffer.from(f[1]), body, seq])
      } else if (f[0] === "frames" && f.length >= 2) {
        await sock.send(f.slice(1).map(hex))
      } else {
        throw new Error(`unknown command ${JSON.stringify(line)}`)
      }
      n++
      process.stdout.write(`ok ${n}\n`)
    } catch (err) {
      process.stdout.write(`error ${err.message}\n`)
    }
  }
  sock.close()
}

function hex(s) {
  if (s === "-") {
    return Buffer.alloc(0)
  }
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) {
    throw new Error(`not hex: ${s}`)
  }
  return Buffer.from(s, "hex")
}

main().catch(err => {
  process.stderr.write(`zmqpub: ${err.message}\n`)
  process.exit(1)
})
