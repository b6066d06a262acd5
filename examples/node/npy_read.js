#!/usr/bin/env node
// npy_read.js - read .npy files (e.g. patchfs batches) with Node.js alone: no npm package.
//
//   node npy_read.js /mnt/p/train/epoch_0/step_0/data.npy /mnt/p/train/epoch_0/step_0/seg.npy
//
// For each file it reads the header (first the 10-12 fixed bytes, then the dict), then exactly
// the data bytes, and prints one line, the same as examples/c/npy_read:
//
//   PATH shape=(2,1,32,48,32) dtype=<f4 count=98304 crc32=6b0e39d1 sum=... min=... max=...
//
// crc32 is zlib's CRC-32 of the array bytes (numpy: zlib.crc32(np.load(PATH).tobytes()));
// sum adds the values in file order in double precision. As a module: readNpy(path) returns
// {dtype, shape, fortranOrder, bytes, values} with values a typed array (a copy, aligned).
"use strict";
const fs = require("fs");

const TYPES = {
  f4: Float32Array, f8: Float64Array, i1: Int8Array, i2: Int16Array, i4: Int32Array,
  i8: BigInt64Array, u1: Uint8Array, u2: Uint16Array, u4: Uint32Array, u8: BigUint64Array,
  b1: Uint8Array,
};
const HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "<" : ">";

function readExactly(fd, length, position, path) {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) throw new Error(`${path}: truncated: ${length - got} bytes missing`);
    got += n;
  }
  return buf;
}

// parse the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 4), }
function parseHeader(text, path) {
  const descr = /'descr':\s*'([<>|=])([fiub])(\d+)'/.exec(text);
  const fortran = /'fortran_order':\s*(True|False)/.exec(text);
  const shape = /'shape':\s*\(([\d,\s]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new Error(`${path}: not a .npy header I can read: ${text}`);
  const code = descr[2] + descr[3];
  if (!TYPES[code]) throw new Error(`${path}: unsupported dtype ${descr[0]}`);
  return {
    order: descr[1] === "=" ? HOST : descr[1],
    code,
    fortranOrder: fortran[1] === "True",
    shape: shape[1].split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number),
  };
}

function readNpy(path) {
  const fd = fs.openSync(path, "r");
  try {
    const pre = readExactly(fd, 10, 0, path);
    if (pre.toString("latin1", 0, 6) !== "\x93NUMPY" || pre[6] < 1 || pre[6] > 3)
      throw new Error(`${path}: not a .npy file`);
    const wide = pre[6] >= 2; // version 2.0 and 3.0 have a 4-byte header length
    const start = wide ? 12 : 10;
    const hlen = wide ? readExactly(fd, 4, 8, path).readUInt32LE(0) : pre.readUInt16LE(8);
    const h = parseHeader(readExactly(fd, hlen, start, path).toString("latin1"), path);
    const Type = TYPES[h.code];
    const count = h.shape.reduce((a, b) => a * b, 1);
    const nbytes = count * Type.BYTES_PER_ELEMENT;
    const bytes = readExactly(fd, nbytes, start + hlen, path);
    if (fs.fstatSync(fd).size !== start + hlen + nbytes) throw new Error(`${path}: size does not match the header`);
    // a fresh ArrayBuffer is aligned for any typed array; swap bytes if the file's order is not ours
    const copy = new Uint8Array(nbytes);
    copy.set(bytes);
    const size = Type.BYTES_PER_ELEMENT;
    if (h.order !== "|" && h.order !== HOST && size > 1)
      for (let i = 0; i < nbytes; i += size) copy.subarray(i, i + size).reverse();
    return {
      dtype: h.order + h.code, shape: h.shape, fortranOrder: h.fortranOrder, bytes,
      values: new Type(copy.buffer, 0, count),
    };
  } finally {
    fs.closeSync(fd);
  }
}

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function summary(path) {
  const a = readNpy(path);
  let sum = 0, min = Infinity, max = -Infinity;
  for (const x of a.values) {
    const v = Number(x);
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const shape = "(" + a.shape.join(",") + (a.shape.length === 1 ? ",)" : ")");
  return `${path} shape=${shape} dtype=${a.dtype}${a.fortranOrder ? " fortran_order" : ""} ` +
    `count=${a.values.length} crc32=${crc32(a.bytes).toString(16).padStart(8, "0")} ` +
    `sum=${sum} min=${a.values.length ? min : 0} max=${a.values.length ? max : 0}`;
}

module.exports = { readNpy, crc32 };

if (require.main === module) {
  if (process.argv.length < 3) {
    console.error("usage: node npy_read.js FILE.npy...");
    process.exit(2);
  }
  let status = 0;
  for (const path of process.argv.slice(2)) {
    try {
      console.log(summary(path));
    } catch (e) {
      console.error(e.message);
      status = 1;
    }
  }
  process.exit(status);
}
