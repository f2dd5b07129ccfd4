/**
 * The Redis Cluster slot of a key, as Redis computes it (cluster spec, "Hash tags"): CRC16/XMODEM of the
 * key's bytes modulo 16384, where a key with a `{` followed later by a `}` with at least one byte
 * between them is hashed by those bytes alone (the first `{` and the first `}` after it).
 */

/** CRC16-CCITT/XMODEM: polynomial 0x1021, initial value 0, no reflection. */
function crc16(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

export function keySlot(key: string): number {
  const bytes = Buffer.from(key)
  const open = bytes.indexOf('{')
  const close = open < 0 ? -1 : bytes.indexOf('}', open + 1)
  const hashed = close > open + 1 ? bytes.subarray(open + 1, close) : bytes
  return crc16(hashed) % 16384
}
