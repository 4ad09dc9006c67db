/**
 * Our SHA-256 and HMAC-SHA256 against the standard's vectors and against the runtime's own
 * (`node:crypto`, which the tests may load), over lengths around every block boundary.
 */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { constantTimeEqual, hmacSha256, sha256, toHex } from "../../lib/sha256.ts";

const enc = new TextEncoder();

Deno.test("sha256() gives FIPS 180-4's digests", () => {
  const cases: [string, string][] = [
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
  ];
  for (const [text, hex] of cases) assert.equal(toHex(sha256(enc.encode(text))), hex, JSON.stringify(text));
  assert.equal(
    toHex(sha256(new Uint8Array(1_000_000).fill(0x61))),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

Deno.test("sha256() and hmacSha256() agree with node:crypto for every length from 0 to 300 bytes", () => {
  const data = new Uint8Array(300);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  for (let n = 0; n <= data.length; n++) {
    const m = data.subarray(0, n);
    assert.equal(toHex(sha256(m)), createHash("sha256").update(m).digest("hex"), `sha256 of ${n} bytes`);
    // Keys shorter than a block, exactly one, and longer (hashed first).
    const key = data.subarray(0, n % 150);
    assert.equal(
      toHex(hmacSha256(key, m)),
      createHmac("sha256", key).update(m).digest("hex"),
      `hmac of ${n} bytes, ${key.length}-byte key`,
    );
  }
});

Deno.test("hmacSha256() gives RFC 4231's tags", () => {
  const cases: [Uint8Array, Uint8Array, string][] = [
    [
      new Uint8Array(20).fill(0x0b),
      enc.encode("Hi There"),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ],
    [
      enc.encode("Jefe"),
      enc.encode("what do ya want for nothing?"),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ],
    [
      new Uint8Array(131).fill(0xaa),
      enc.encode("Test Using Larger Than Block-Size Key - Hash Key First"),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ],
  ];
  for (const [key, data, hex] of cases) assert.equal(toHex(hmacSha256(key, data)), hex);
});

Deno.test("constantTimeEqual() is true only for equal bytes of equal length", () => {
  const cases: [number[], number[], boolean][] = [
    [[], [], true],
    [[1, 2, 3], [1, 2, 3], true],
    [[1, 2, 3], [1, 2, 4], false],
    [[1, 2, 3], [1, 2], false],
    [[0], [128], false],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(constantTimeEqual(new Uint8Array(a), new Uint8Array(b)), want, `${a} vs ${b}`);
  }
});
